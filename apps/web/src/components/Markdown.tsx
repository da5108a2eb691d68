"use client";

import { useMemo } from "react";

import { renderMarkdown } from "@/lib/markdown";

/**
 * A report written in Markdown, as sanitised HTML (`src/lib/markdown.ts`). Load it with
 * `dynamic(..., { ssr: false })`: the sanitiser needs the browser's DOM, and the parser's
 * ~30 kB then arrive only with a report.
 */
export function Markdown({ source }: { source: string }) {
  const html = useMemo(() => renderMarkdown(source), [source]);
  return <div className="markdown text-sm leading-relaxed" dangerouslySetInnerHTML={{ __html: html }} />;
}
