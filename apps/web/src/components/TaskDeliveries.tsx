"use client";

import { useQuery } from "@tanstack/react-query";

import { Badge, type BadgeProps } from "@/components/ui/badge";
import { orchestrator, unwrap } from "@/lib/api/client";

const LABEL: Record<string, [string, BadgeProps["variant"]]> = {
  PENDING: ["pending", "secondary"],
  DELIVERED: ["delivered", "success"],
  FAILING: ["failing", "warning"],
  GIVEN_UP: ["given up", "destructive"],
};
const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : "");

/** Where the task's result was sent, with every attempt; refreshed while any is unsettled. */
export function TaskDeliveries({ taskId }: { taskId: string }) {
  const deliveries = useQuery({
    queryKey: ["tasks", taskId, "deliveries"],
    queryFn: () =>
      unwrap(orchestrator.GET("/tasks/{task_id}/deliveries", { params: { path: { task_id: taskId } } })),
    refetchInterval: (q) =>
      q.state.data?.some((d) => d.status === "PENDING" || d.status === "FAILING") ? 3000 : false,
  });
  if (!deliveries.data || deliveries.data.length === 0) return null;
  return (
    <section aria-labelledby={`deliveries-${taskId}`} data-testid="task-deliveries">
      <h3 id={`deliveries-${taskId}`} className="mb-2 text-sm font-semibold">
        Deliveries
      </h3>
      <ul className="space-y-2 text-sm">
        {deliveries.data.map((d) => {
          const [label, variant] = LABEL[d.status] ?? [d.status, "outline"];
          return (
            <li key={d.id} className="rounded-md border p-2">
              <div className="flex flex-wrap items-center gap-2">
                <Badge variant={variant}>{label}</Badge>
                <span className="font-medium">{d.kind === "email" ? "Email" : `Webhook (${d.format})`}</span>
                <span className="break-all text-muted-foreground">{d.target}</span>
                <span className="text-xs text-muted-foreground">
                  {d.attempts} attempt(s)
                  {d.delivered_at ? ` · delivered ${when(d.delivered_at)}` : ""}
                  {d.status === "FAILING" && d.next_attempt_at ? ` · next ${when(d.next_attempt_at)}` : ""}
                </span>
              </div>
              {d.attempt_log.length > 0 ? (
                <ol className="mt-1 space-y-0.5 font-mono text-xs text-muted-foreground">
                  {d.attempt_log.map((a) => (
                    <li key={a.attempt}>
                      #{a.attempt} {when(a.started_at)} {a.outcome ?? "sending…"}
                      {a.status_code ? ` (${a.status_code})` : ""}
                      {a.error ? ` — ${a.error}` : ""}
                    </li>
                  ))}
                </ol>
              ) : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
