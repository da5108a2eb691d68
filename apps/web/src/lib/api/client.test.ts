import { describe, expect, it } from "vitest";

import { loginRedirect, signingOutNow } from "./client";

describe("loginRedirect", () => {
  it("sends an expired session to the login page, back to where it was", () => {
    expect(loginRedirect({ pathname: "/agents/a1", search: "?tab=tasks" })).toBe(
      "/login?next=%2Fagents%2Fa1%3Ftab%3Dtasks",
    );
  });

  it("never sends a sign-in page to itself", () => {
    expect(loginRedirect({ pathname: "/login", search: "" })).toBeNull();
    expect(loginRedirect({ pathname: "/signup", search: "?x=1" })).toBeNull();
  });

  // Last: the flag lasts until the page is loaded again, as logging out does.
  it("goes nowhere while the user logs out", () => {
    signingOutNow();
    expect(loginRedirect({ pathname: "/dashboard", search: "" })).toBeNull();
  });
});
