import { describe, expect, it } from "vitest";

import { parseInline, parseMarkdown } from "./markdown";

describe("parseMarkdown", () => {
  it("reads a report's headings, paragraphs, lists and tables", () => {
    const blocks = parseMarkdown(
      [
        "# Daily warehouse report — 2026-11-25",
        "",
        "Throughput was **1,204** lines,",
        "up 4% on the day before.",
        "",
        "- Zone A: *late* orders 3",
        "- Zone B: `idle` dock 2",
        "",
        "1. first",
        "2. second",
        "",
        "| zone | lines |",
        "|---|---:|",
        "| A | 600 |",
        "| B | 604 |",
        "---",
      ].join("\n"),
    );
    expect(blocks.map((b) => b.kind)).toEqual([
      "heading",
      "paragraph",
      "list",
      "list",
      "table",
      "rule",
    ]);
    expect(blocks[1]).toEqual({
      kind: "paragraph",
      content: [
        { kind: "text", text: "Throughput was " },
        { kind: "strong", text: "1,204" },
        { kind: "text", text: " lines, up 4% on the day before." },
      ],
    });
    expect(blocks[3]).toMatchObject({ kind: "list", ordered: true });
    const table = blocks[4];
    expect(table?.kind === "table" && table.header.length).toBe(2);
    expect(table?.kind === "table" && table.rows[1]?.[1]).toEqual([{ kind: "text", text: "604" }]);
  });

  it("keeps code blocks verbatim and markup as plain text", () => {
    const blocks = parseMarkdown("```\nSELECT * FROM t; <b>x</b>\n```\n<script>alert(1)</script>");
    expect(blocks[0]).toEqual({ kind: "code", text: "SELECT * FROM t; <b>x</b>" });
    expect(blocks[1]).toEqual({
      kind: "paragraph",
      content: [{ kind: "text", text: "<script>alert(1)</script>" }],
    });
  });

  it("does not treat a lone asterisk or snake_case as emphasis", () => {
    expect(parseInline("2 * 3 = 6")).toEqual([{ kind: "text", text: "2 * 3 = 6" }]);
    expect(parseInline("picker_id")).toEqual([{ kind: "text", text: "picker_id" }]);
    // The report's "not available (...)" names columns with two underscores and more.
    const reason = "Not available (shipments.loading_started_at is empty): busy minutes";
    expect(parseInline(reason)).toEqual([{ kind: "text", text: reason }]);
    expect(parseInline("mean_7d_picks and __init__")).toEqual([
      { kind: "text", text: "mean_7d_picks and " },
      { kind: "strong", text: "init" },
    ]);
    expect(parseInline("_assembled from the figures._")).toEqual([
      { kind: "em", text: "assembled from the figures." },
    ]);
  });
});
