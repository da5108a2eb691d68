import { describe, expect, it } from "vitest";

import { describeTaskEvent } from "./task-events";

describe("describeTaskEvent", () => {
  it("says why a task started by an agent task was cancelled", () => {
    const reason = "cancelled with the agent task 0193ab12 that started it";
    expect(describeTaskEvent("task_cancelled", { by: "u1", with: "0193ab12", reason })).toBe(
      `cancelled: ${reason}`,
    );
    const limit = "stopped because the agent task 0193ab12 that started it could wait ...";
    expect(describeTaskEvent("task_cancelled", { reason: limit, released_tool_calls: [] })).toBe(
      `cancelled: ${limit}`,
    );
  });

  it("adds nothing to a cancellation from the task's own page (no reason)", () => {
    expect(describeTaskEvent("task_cancelled", { by: "u1", released_tool_calls: ["c1"] })).toBe("");
  });

  it("keeps the agent-task lines and the generic one", () => {
    expect(describeTaskEvent("approval_decided", { tool: "remember", decision: "rejected", reason: "no" })).toBe(
      "remember rejected: no",
    );
    expect(describeTaskEvent("tool_call_finished", { tool: "db_query", rows: 2, duration_ms: 5 })).toBe(
      "db_query · 2 rows · 5 ms",
    );
    expect(describeTaskEvent("step_finished", { step: "fetch_data", duration_ms: 12 })).toBe("fetch_data · 12 ms");
  });
});
