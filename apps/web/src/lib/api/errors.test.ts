import { describe, expect, it } from "vitest";

import { ApiError, toApiError } from "./errors";

describe("toApiError", () => {
  it("keeps a plain detail as the message", () => {
    const error = toApiError(409, { detail: "email already registered" });
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(409);
    expect(error.message).toBe("email already registered");
    expect(error.fields).toEqual({});
  });

  it("maps validation errors to the fields they name", () => {
    const error = toApiError(422, {
      detail: [
        { loc: ["body", "password"], msg: "String should have at least 8 characters" },
        { loc: ["body", "email"], msg: "Value error, not a valid email address" },
      ],
    });
    expect(error.fields).toEqual({
      password: "String should have at least 8 characters",
      email: "not a valid email address",
    });
    expect(error.message).toContain("password: String should have at least 8 characters");
  });

  it("names nested fields with dots and keeps the first message per field", () => {
    const error = toApiError(422, {
      detail: [
        { loc: ["body", "tools", 0, "config"], msg: "first" },
        { loc: ["body", "tools", 0, "config"], msg: "second" },
      ],
    });
    expect(error.fields).toEqual({ "tools.0.config": "first" });
  });

  it("says the service is down on 502 without a body", () => {
    expect(toApiError(502, null).message).toMatch(/unavailable/);
    expect(toApiError(500, "oops").message).toBe("request failed (HTTP 500)");
  });
});
