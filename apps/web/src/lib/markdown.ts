// A small Markdown reader for the reports the orchestrator writes (headings, paragraphs, lists,
// tables, code, bold/italic/code spans). It yields a tree that is rendered as React elements,
// never as HTML strings, so nothing in a report can inject markup; and it costs a few hundred
// bytes instead of a full Markdown library's ~40 kB.

export type Inline =
  | { kind: "text"; text: string }
  | { kind: "strong"; text: string }
  | { kind: "em"; text: string }
  | { kind: "code"; text: string };

export type Block =
  | { kind: "heading"; level: number; content: Inline[] }
  | { kind: "paragraph"; content: Inline[] }
  | { kind: "list"; ordered: boolean; items: Inline[][] }
  | { kind: "table"; header: Inline[][]; rows: Inline[][][] }
  | { kind: "code"; text: string }
  | { kind: "quote"; content: Inline[] }
  | { kind: "rule" };

// Underscores emphasise only at word boundaries (as in CommonMark): the report names columns
// like shipments.loading_started_at, which must not turn into "loading<em>started</em>at".
const INLINE =
  /(`[^`]+`|\*\*[^*]+\*\*|(?<![\p{L}\p{N}_])__[^_]+__(?![\p{L}\p{N}_])|\*[^*\s][^*]*\*|(?<![\p{L}\p{N}_])_[^_\s][^_]*_(?![\p{L}\p{N}_]))/gu;

export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    const token = match[0];
    const at = match.index ?? 0;
    if (at > last) out.push({ kind: "text", text: text.slice(last, at) });
    if (token.startsWith("`")) out.push({ kind: "code", text: token.slice(1, -1) });
    else if (token.startsWith("**") || token.startsWith("__"))
      out.push({ kind: "strong", text: token.slice(2, -2) });
    else out.push({ kind: "em", text: token.slice(1, -1) });
    last = at + token.length;
  }
  if (last < text.length) out.push({ kind: "text", text: text.slice(last) });
  return out;
}

function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split("|")
    .map((c) => c.trim());
}

const LIST_ITEM = /^\s*([-*+]|\d+[.)])\s+(.*)$/;

export function parseMarkdown(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? "";
    if (line.trim() === "") {
      i += 1;
      continue;
    }
    if (line.startsWith("```")) {
      const body: string[] = [];
      i += 1;
      while (i < lines.length && !(lines[i] ?? "").startsWith("```")) body.push(lines[i++] ?? "");
      i += 1;
      blocks.push({ kind: "code", text: body.join("\n") });
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      blocks.push({
        kind: "heading",
        level: heading[1]!.length,
        content: parseInline(heading[2]!.trim()),
      });
      i += 1;
      continue;
    }
    if (/^(-{3,}|\*{3,}|_{3,})\s*$/.test(line)) {
      blocks.push({ kind: "rule" });
      i += 1;
      continue;
    }
    if (line.trimStart().startsWith("|")) {
      const rows: string[] = [];
      while (i < lines.length && (lines[i] ?? "").trimStart().startsWith("|")) rows.push(lines[i++]!);
      const separator = rows[1] !== undefined && /^[\s|:-]+$/.test(rows[1]);
      const header = separator ? cells(rows[0]!).map(parseInline) : [];
      const body = (separator ? rows.slice(2) : rows).map((r) => cells(r).map(parseInline));
      blocks.push({ kind: "table", header, rows: body });
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item) {
      const ordered = /\d/.test(item[1]!);
      const items: Inline[][] = [];
      while (i < lines.length) {
        const m = LIST_ITEM.exec(lines[i] ?? "");
        if (!m || /\d/.test(m[1]!) !== ordered) break;
        items.push(parseInline(m[2]!));
        i += 1;
      }
      blocks.push({ kind: "list", ordered, items });
      continue;
    }
    if (line.startsWith(">")) {
      const quoted: string[] = [];
      while (i < lines.length && (lines[i] ?? "").startsWith(">"))
        quoted.push((lines[i++] ?? "").replace(/^>\s?/, ""));
      blocks.push({ kind: "quote", content: parseInline(quoted.join(" ")) });
      continue;
    }
    const para: string[] = [];
    while (i < lines.length) {
      const l = lines[i] ?? "";
      if (
        l.trim() === "" ||
        /^(#{1,6})\s/.test(l) ||
        l.startsWith("```") ||
        l.trimStart().startsWith("|") ||
        LIST_ITEM.test(l) ||
        l.startsWith(">")
      )
        break;
      para.push(l.trim());
      i += 1;
    }
    blocks.push({ kind: "paragraph", content: parseInline(para.join(" ")) });
  }
  return blocks;
}
