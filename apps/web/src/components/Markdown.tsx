import { Fragment } from "react";

import { parseMarkdown, type Inline } from "@/lib/markdown";

function Spans({ content }: { content: Inline[] }) {
  return (
    <>
      {content.map((span, i) => {
        switch (span.kind) {
          case "strong":
            return <strong key={i}>{span.text}</strong>;
          case "em":
            return <em key={i}>{span.text}</em>;
          case "code":
            return (
              <code key={i} className="rounded bg-muted px-1 font-mono text-[0.85em]">
                {span.text}
              </code>
            );
          default:
            return <Fragment key={i}>{span.text}</Fragment>;
        }
      })}
    </>
  );
}

const HEADING = ["text-2xl", "text-xl", "text-lg", "text-base", "text-sm", "text-sm"];

/** A report written in Markdown, rendered as elements (no HTML injection possible). */
export function Markdown({ source }: { source: string }) {
  return (
    <div className="space-y-3 text-sm leading-relaxed">
      {parseMarkdown(source).map((block, i) => {
        switch (block.kind) {
          case "heading": {
            const Tag = `h${Math.min(block.level + 1, 6)}` as "h2";
            return (
              <Tag key={i} className={`${HEADING[block.level - 1]} mt-4 font-semibold`}>
                <Spans content={block.content} />
              </Tag>
            );
          }
          case "paragraph":
            return (
              <p key={i}>
                <Spans content={block.content} />
              </p>
            );
          case "quote":
            return (
              <blockquote key={i} className="border-l-4 pl-3 text-muted-foreground">
                <Spans content={block.content} />
              </blockquote>
            );
          case "list": {
            const List = block.ordered ? "ol" : "ul";
            return (
              <List key={i} className={`${block.ordered ? "list-decimal" : "list-disc"} space-y-1 pl-6`}>
                {block.items.map((item, j) => (
                  <li key={j}>
                    <Spans content={item} />
                  </li>
                ))}
              </List>
            );
          }
          case "table":
            return (
              <div key={i} className="overflow-x-auto">
                <table className="w-full border text-xs">
                  {block.header.length ? (
                    <thead className="bg-muted/50">
                      <tr>
                        {block.header.map((cell, j) => (
                          <th key={j} scope="col" className="border px-2 py-1 text-left font-medium">
                            <Spans content={cell} />
                          </th>
                        ))}
                      </tr>
                    </thead>
                  ) : null}
                  <tbody>
                    {block.rows.map((row, j) => (
                      <tr key={j}>
                        {row.map((cell, k) => (
                          <td key={k} className="border px-2 py-1 tabular-nums">
                            <Spans content={cell} />
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            );
          case "code":
            return (
              <pre key={i} className="overflow-auto rounded-md bg-muted p-3 font-mono text-xs">
                {block.text}
              </pre>
            );
          case "rule":
            return <hr key={i} />;
        }
      })}
    </div>
  );
}
