import { describe, expect, it } from "vitest";

import { CreateGuard } from "./create-guard";

describe("CreateGuard", () => {
  it("gives one body one key until a create succeeds, and another body another key", () => {
    const guard = new CreateGuard();
    const first = guard.keyFor({ name: "Acme" });
    expect(guard.keyFor({ name: "Acme" })).toBe(first);
    expect(guard.keyFor({ name: "Acme 2" })).not.toBe(first);
    guard.succeeded();
    expect(guard.keyFor({ name: "Acme" })).not.toBe(first);
  });

  it("ignores a second send while the first is under way", async () => {
    const guard = new CreateGuard();
    let sends = 0;
    let finish!: () => void;
    const send = () => {
      sends += 1;
      return new Promise<void>((resolve) => (finish = resolve));
    };
    guard.once(send);
    guard.once(send);
    expect(sends).toBe(1);
    finish();
    await new Promise((r) => setTimeout(r, 0));
    guard.once(() => {
      sends += 1;
      return Promise.reject(new Error("422"));
    });
    await new Promise((r) => setTimeout(r, 0));
    guard.once(async () => void (sends += 1));
    expect(sends).toBe(3);
  });
});
