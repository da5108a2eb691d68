// Reports (and anything else a model writes) are Markdown. They are read by micromark, a
// CommonMark-compliant parser, with GFM tables; its HTML then goes through DOMPurify before it
// reaches the page. micromark already escapes raw HTML and drops `javascript:` links (its safe
// defaults); the sanitiser is the second wall, and it also keeps out what Markdown itself can
// express but a report must not do: images (an image URL written by a model is a request to
// anywhere, with whatever the model put in it) and any tag outside the list below.
// Cost: ~30 kB of gzipped JavaScript, loaded only with a report (docs/benchmarks.md).
import DOMPurify from "dompurify";
import { micromark } from "micromark";
import { gfmTable, gfmTableHtml } from "micromark-extension-gfm-table";

const ALLOWED_TAGS = [
  "p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong", "em", "code", "pre",
  "blockquote", "hr", "br", "a", "table", "thead", "tbody", "tr", "th", "td",
];
const ALLOWED_ATTR = ["href", "title", "align", "start"];

let hooked = false;

function purifier(): typeof DOMPurify {
  if (!DOMPurify.isSupported) {
    // Without a DOM (a server render) DOMPurify cannot sanitise: refuse rather than pass
    // unsanitised HTML on.
    throw new Error("Markdown can only be rendered where there is a DOM");
  }
  if (!hooked) {
    // Links leave the app in a new tab that cannot reach back into this one.
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    });
    hooked = true;
  }
  return DOMPurify;
}

/**
 * Markdown to sanitised HTML. Headings move one level down (`#` becomes h2): the page has its
 * own h1. The rewrite runs on micromark's output, where a `<h1>` written in the source is
 * already the escaped text `&lt;h1&gt;`.
 */
export function renderMarkdown(source: string): string {
  const html = micromark(source, { extensions: [gfmTable()], htmlExtensions: [gfmTableHtml()] })
    .replace(/<(\/?)h([1-6])>/g, (_, slash: string, level: string) => `<${slash}h${Math.min(Number(level) + 1, 6)}>`);
  const purify = purifier();
  return purify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    // DOMPurify's own pattern with fewer schemes: web and mail links, or no scheme at all
    // (also what plain attribute values such as align="right" are checked against).
    ALLOWED_URI_REGEXP: /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i,
  });
}
