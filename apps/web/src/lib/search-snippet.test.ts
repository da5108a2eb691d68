import { describe, expect, it } from "vitest";

import { matchSnippet } from "./search-snippet";

describe("matchSnippet", () => {
  it("shows the matched unit even far into a long passage", () => {
    const text = "Intro. ".repeat(100) + "Count pallets before noon." + " Tail.".repeat(100);
    const start = text.indexOf("Count");
    const part = matchSnippet(text, start, start + "Count pallets before noon.".length, 20);
    expect(part.match).toBe("Count pallets before noon.");
    expect(part.before.startsWith("…")).toBe(true);
    expect(part.after.endsWith("…")).toBe(true);
    expect(part.before.length).toBeLessThanOrEqual(21);
  });

  it("keeps a short passage whole and survives offsets past its end", () => {
    expect(matchSnippet("abc", 0, 3)).toEqual({ before: "", match: "abc", after: "" });
    expect(matchSnippet("abc", 5, 9)).toEqual({ before: "abc", match: "", after: "" });
  });
});
