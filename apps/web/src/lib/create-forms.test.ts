import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// Every create the API guards with an Idempotency-Key (read from the generated API types, so a
// route that gains the header is covered at once) must be sent with one by the web app:
// a double click or a retry after a lost answer then creates once.
const root = join(__dirname, "..");

function idempotentPosts(service: "core" | "orchestrator"): string[] {
  const types = readFileSync(join(root, "lib/api/generated", `${service}.d.ts`), "utf8");
  const guarded = new Set<string>();
  for (const [, name = "", block = ""] of types.matchAll(/^ {4}(\w+): \{\n([\s\S]*?)^ {4}\};/gm)) {
    if (block.includes('"Idempotency-Key"')) guarded.add(name);
  }
  const paths: string[] = [];
  for (const [, path = "", block = ""] of types.matchAll(/^ {4}"([^"]+)": \{\n([\s\S]*?)^ {4}\};/gm)) {
    const post = /post: operations\["(\w+)"\]/.exec(block);
    if (post?.[1] && guarded.has(post[1])) paths.push(path);
  }
  return paths;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : /\.tsx?$/.test(e.name) && !e.name.includes(".test.")
        ? [join(dir, e.name)]
        : [],
  );
}

/** The text of the call that opens at `start` (the index of its "("). */
function callText(text: string, start: number): string {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return text.slice(start, i + 1);
  }
  return text.slice(start);
}

describe("create forms", () => {
  const files = sources(join(root, "components")).map((f) => ({
    file: f.slice(root.length + 1),
    text: readFileSync(f, "utf8"),
  }));

  for (const service of ["core", "orchestrator"] as const) {
    it(`send an Idempotency-Key with every ${service} create that takes one`, () => {
      const paths = idempotentPosts(service);
      expect(paths.length).toBeGreaterThan(1);
      const missing: string[] = [];
      for (const { file, text } of files) {
        for (const path of paths) {
          const needle = `${service}.POST("${path}"`;
          for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
            const call = callText(text, at + needle.length - path.length - 3);
            if (!call.includes('"Idempotency-Key"')) missing.push(`${file}: POST ${path}`);
          }
        }
      }
      expect(missing).toEqual([]);
    });
  }

  it("send the upload with an Idempotency-Key and ignore a second submit while one runs", () => {
    const upload = files.find((f) => f.file.endsWith("DocumentUpload.tsx"))!.text;
    expect(upload).toContain('setRequestHeader("Idempotency-Key"');
    expect(upload).toMatch(/guard\.once\(/);
  });
});
