// Search results show the passage around the unit the search matched.

/**
 * The passage around its matched unit (the sentence group the search found closest), with
 * up to `context` characters either side: a long passage no longer hides the match past a
 * cut, and the match is marked.
 */
export function matchSnippet(
  text: string,
  start: number,
  end: number,
  context = 160,
): { before: string; match: string; after: string } {
  const from = Math.max(0, Math.min(start, text.length));
  const to = Math.max(from, Math.min(end, text.length));
  const head = Math.max(0, from - context);
  const tail = Math.min(text.length, to + context);
  return {
    before: (head > 0 ? "…" : "") + text.slice(head, from),
    match: text.slice(from, to),
    after: text.slice(to, tail) + (tail < text.length ? "…" : ""),
  };
}
