/** One line of a task's timeline, from its event's type and payload: the agent-task events
 * (model turns, tool calls, approvals) and cancellations in words, any other event by its
 * step, summary, tool, error and status. */
export function describeTaskEvent(type: string, p: Record<string, unknown>): string {
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  switch (type) {
    case "model_turn": {
      const calls = Array.isArray(p.tool_calls)
        ? (p.tool_calls as { tool: string }[]).map((c) => c.tool).join(", ")
        : "";
      const tokens = `${Number(p.tokens_in ?? 0) + Number(p.tokens_out ?? 0)} tokens`;
      return `turn ${p.turn}: ${calls ? `asks for ${calls}` : "answers"} · ${tokens}`;
    }
    case "tool_call_started":
      return `${text(p.tool)} ${text(p.sql) || text(p.arguments)}`;
    case "tool_call_finished": {
      const parts = [text(p.tool)];
      if (typeof p.rows === "number") parts.push(`${p.rows} rows`);
      if (typeof p.bytes === "number") parts.push(`${p.bytes} bytes`);
      if (typeof p.duration_ms === "number") parts.push(`${p.duration_ms} ms`);
      if (p.refused) parts.push("REFUSED");
      if (p.error) parts.push(text(p.error));
      return parts.join(" · ");
    }
    case "approval_requested":
      return `waiting for approval of ${text(p.tool)}`;
    case "approval_decided":
      return `${text(p.tool)} ${text(p.decision)}${p.reason ? `: ${text(p.reason)}` : ""}`;
    // A task started by an agent task says why it was stopped (with its parent, or at the
    // parent's time limit); one cancelled from its own page has no reason.
    case "task_cancelled":
      if (p.reason) return `cancelled: ${text(p.reason)}`;
  }
  const parts = [p.step, p.summary, p.tool, p.error, p.status].filter(
    (v): v is string => typeof v === "string" && v !== "",
  );
  if (typeof p.duration_ms === "number") parts.push(`${p.duration_ms} ms`);
  return parts.join(" · ");
}
