// Why an unfinished task is not moving: from its open tool call and the agent's local agents,
// both in the task's detail (GET /tasks/{id}).
import type { OrchestratorSchemas } from "@/lib/api/client";

type TaskDetail = Pick<OrchestratorSchemas["TaskDetail"], "status" | "tool_calls" | "local_agents">;

const at = (iso: string) => new Date(iso).toLocaleString();

function names(items: { name: string }[]): string {
  return items.map((a) => a.name).join(", ");
}

/** One sentence saying what the task waits for, or null when it waits for nothing outside. */
export function waitingExplanation(task: TaskDetail): string | null {
  if (task.status !== "WAITING" && task.status !== "RUNNING") return null;
  const call = task.tool_calls.find((c) => c.status === "PENDING" || c.status === "CLAIMED");
  if (!call) return null;
  const attempt = `attempt ${call.attempt} of ${call.max_attempts}`;
  if (call.status === "CLAIMED" && call.claimed_by) {
    const host = call.claimed_by_host ? ` on ${call.claimed_by_host}` : "";
    const since = call.claimed_at ? ` since ${at(call.claimed_at)}` : "";
    const lease = call.lease_until ? `; its lease runs until ${at(call.lease_until)}` : "";
    return `Claimed by ${call.claimed_by}${host}${since}: the local agent is running the ${call.tool} call (${attempt})${lease}.`;
  }
  const online = task.local_agents.filter((a) => a.status === "ACTIVE");
  const able = online.filter((a) => a.tools.includes(call.tool));
  if (able.length > 0) {
    return `Waiting for ${names(able)} to pick up the ${call.tool} call (online; it asks for work every few seconds).`;
  }
  if (online.length > 0) {
    return `Waiting for a local agent with the ${call.tool} tool: ${names(online)} ${online.length > 1 ? "are" : "is"} online, but ${online.length > 1 ? "their policies do" : "its policy does"} not enable ${call.tool}.`;
  }
  const seen = task.local_agents
    .filter((a) => a.last_heartbeat_at)
    .sort((a, b) => (a.last_heartbeat_at! < b.last_heartbeat_at! ? 1 : -1));
  const last = seen[0];
  if (last?.last_heartbeat_at) {
    return `Waiting for a local agent of this agent; none is online — last seen ${at(last.last_heartbeat_at)} (${last.name}). Start phi-agent on that machine to let the ${call.tool} call run.`;
  }
  return `Waiting for a local agent of this agent; none has connected yet. Create a key in the Local agents tab and start phi-agent with it to let the ${call.tool} call run.`;
}
