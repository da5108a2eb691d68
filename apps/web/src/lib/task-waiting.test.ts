import { describe, expect, it } from "vitest";

import type { OrchestratorSchemas } from "./api/client";
import { waitingExplanation } from "./task-waiting";

type Call = OrchestratorSchemas["ToolCallOut"];
type LocalAgent = OrchestratorSchemas["LocalAgentOut"];

const call = (extra: Partial<Call> = {}): Call => ({
  id: "c1",
  step: "fetch_data",
  tool: "db",
  status: "PENDING",
  attempt: 0,
  max_attempts: 3,
  lease_until: null,
  claimed_at: null,
  claimed_by: null,
  claimed_by_host: null,
  error: null,
  created_at: "2026-12-05T10:00:00Z",
  completed_at: null,
  ...extra,
});

const pc = (extra: Partial<LocalAgent> = {}): LocalAgent => ({
  id: "l1",
  name: "warehouse-pc-1",
  host: "wh1",
  version: "0.1.0",
  tools: ["db"],
  status: "ACTIVE",
  last_heartbeat_at: "2026-12-05T09:59:00Z",
  ...extra,
});

describe("waitingExplanation", () => {
  it("says when no local agent ever connected", () => {
    const text = waitingExplanation({ status: "WAITING", tool_calls: [call()], local_agents: [] });
    expect(text).toMatch(/^Waiting for a local agent of this agent; none has connected yet/);
  });

  it("says when the local agents are offline and when one was last seen", () => {
    const text = waitingExplanation({
      status: "WAITING",
      tool_calls: [call()],
      local_agents: [
        pc({ status: "OFFLINE", name: "old-pc", last_heartbeat_at: "2026-12-01T08:00:00Z" }),
        pc({ status: "OFFLINE" }),
      ],
    });
    expect(text).toContain("none is online — last seen ");
    expect(text).toContain("(warehouse-pc-1)");
  });

  it("names the local agent that claimed the call", () => {
    const text = waitingExplanation({
      status: "WAITING",
      tool_calls: [
        call({ status: "CLAIMED", attempt: 1, claimed_by: "warehouse-pc-1", claimed_by_host: "wh1", claimed_at: "2026-12-05T10:00:01Z", lease_until: "2026-12-05T10:00:31Z" }),
      ],
      local_agents: [pc()],
    });
    expect(text).toMatch(/^Claimed by warehouse-pc-1 on wh1 since .*attempt 1 of 3/);
  });

  it("tells an online agent without the tool from one that has it", () => {
    const filesOnly = waitingExplanation({ status: "WAITING", tool_calls: [call()], local_agents: [pc({ tools: ["file"] })] });
    expect(filesOnly).toContain("warehouse-pc-1 is online, but its policy does not enable db");
    const able = waitingExplanation({ status: "WAITING", tool_calls: [call()], local_agents: [pc()] });
    expect(able).toMatch(/^Waiting for warehouse-pc-1 to pick up the db call/);
  });

  it("is silent for finished tasks and tasks with no open call", () => {
    expect(waitingExplanation({ status: "SUCCESS", tool_calls: [call()], local_agents: [] })).toBeNull();
    expect(waitingExplanation({ status: "RUNNING", tool_calls: [call({ status: "DONE" })], local_agents: [] })).toBeNull();
  });
});
