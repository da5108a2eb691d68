import { describe, expect, it } from "vitest";

import { csrfRefusal } from "./csrf";
import { isOperatorPath, servicePath } from "./proxy";

function req(method: string, headers: Record<string, string>) {
  return { method, url: "http://localhost:3000/api/core/orgs", headers: new Headers(headers) };
}

describe("csrfRefusal", () => {
  it("lets reads through from anywhere", () => {
    expect(csrfRefusal(req("GET", { origin: "https://evil.example" }))).toBeNull();
  });

  it("accepts a write from our own origin", () => {
    expect(
      csrfRefusal(req("POST", { host: "localhost:3000", origin: "http://localhost:3000" })),
    ).toBeNull();
  });

  it("refuses a write from another origin, even another port of the same host", () => {
    expect(
      csrfRefusal(req("POST", { host: "localhost:3000", origin: "http://localhost:8000" })),
    ).toMatch(/cross-origin/);
    expect(
      csrfRefusal(req("DELETE", { host: "localhost:3000", origin: "https://evil.example" })),
    ).toMatch(/cross-origin/);
  });

  it("falls back to Sec-Fetch-Site and refuses a write with neither header", () => {
    expect(csrfRefusal(req("PATCH", { "sec-fetch-site": "same-origin" }))).toBeNull();
    expect(csrfRefusal(req("PATCH", { "sec-fetch-site": "cross-site" }))).toMatch(/Origin/);
    expect(csrfRefusal(req("POST", {}))).toMatch(/Origin/);
  });
});

describe("servicePath", () => {
  it("joins plain segments and encodes them", () => {
    expect(servicePath(["agents", "a b", "documents"])).toBe("/agents/a%20b/documents");
  });

  it("refuses traversal and embedded separators", () => {
    expect(servicePath(["..", "admin"])).toBeNull();
    expect(servicePath(["orgs", "x/y"])).toBeNull();
    expect(servicePath(["orgs", ""])).toBeNull();
  });
});

describe("isOperatorPath", () => {
  it("keeps the services' metrics, readiness and health endpoints out of the proxy", () => {
    expect(isOperatorPath(["metrics"])).toBe(true);
    expect(isOperatorPath(["Ready"])).toBe(true);
    expect(isOperatorPath(["health"])).toBe(true);
    expect(isOperatorPath(["orgs", "metrics"])).toBe(false);
    expect(isOperatorPath(["agents"])).toBe(false);
  });
});
