"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import { type ReactNode, useEffect, useRef, useState } from "react";

import { AgentAnswer, ApprovalBox, GiveTask } from "@/components/AgentTask";
import { FormField } from "@/components/form-field";
import { EmptyState, ErrorState, InlineError, LoadingState } from "@/components/states";
import { Badge, type BadgeProps } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, NativeSelect } from "@/components/ui/input";
import { orchestrator, unwrap, type Schemas } from "@/lib/api/client";
import { keys, useTask, useTasks, type TaskStatus } from "@/lib/api/queries";
import { useCreateGuard } from "@/lib/create-guard";
import { followEvents } from "@/lib/sse";
import { describeTaskEvent } from "@/lib/task-events";
import { waitingExplanation } from "@/lib/task-waiting";
import { useUrlParam } from "@/lib/url-state";

// The Markdown reader and its sanitiser (~30 kB) come with the first report, in the browser
// only: the sanitiser needs a DOM.
const Markdown = dynamic(() => import("@/components/Markdown").then((m) => m.Markdown), {
  ssr: false,
  loading: () => <LoadingState label="Loading report" />,
});

// Chartist and the charts come with the first report that has charts (~12 kB gzipped).
const ReportCharts = dynamic(() => import("@/components/ReportCharts").then((m) => m.ReportCharts), {
  ssr: false,
  loading: () => <LoadingState label="Loading charts" />,
});
const TaskDeliveries = dynamic(() => import("@/components/TaskDeliveries").then((m) => m.TaskDeliveries), {
  ssr: false,
});
const DeliverySettings = dynamic(
  () => import("@/components/DeliverySettings").then((m) => m.DeliverySettings),
  { ssr: false },
);

/** A part of the page whose code loads only when asked for: the delivery parts stay out of
 * a cold load of the tasks tab (its JavaScript budget is 200 kB with a report open). */
function OnDemand({ label, children }: { label: string; children: () => ReactNode }) {
  const [open, setOpen] = useState(false);
  if (open) return <>{children()}</>;
  return (
    <Button type="button" variant="outline" size="sm" onClick={() => setOpen(true)}>
      {label}
    </Button>
  );
}

/** A part whose code loads when it scrolls into view (the report's charts sit below the
 * task's events, so a cold load of the page does not fetch Chartist until it is needed). */
function OnView({ testId, children }: { testId: string; children: () => ReactNode }) {
  const [seen, setSeen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const node = ref.current;
    if (seen || !node) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setSeen(true);
    });
    observer.observe(node);
    return () => observer.disconnect();
  }, [seen]);
  if (seen) return <>{children()}</>;
  return <div ref={ref} data-testid={testId} className="min-h-24" aria-hidden="true" />;
}

const STATUSES: TaskStatus[] = [
  "PENDING",
  "RUNNING",
  "WAITING",
  "AWAITING_APPROVAL",
  "SUCCESS",
  "FAILED",
  "CANCELLED",
];
const FINISHED = new Set<string>(["SUCCESS", "FAILED", "CANCELLED"]);
const STATUS_VARIANT: Record<string, BadgeProps["variant"]> = {
  SUCCESS: "success",
  FAILED: "destructive",
  CANCELLED: "secondary",
  WAITING: "warning",
  AWAITING_APPROVAL: "warning",
  RUNNING: "warning",
  PENDING: "secondary",
};
const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "—");

export function TaskStatusBadge({ status }: { status: string }) {
  return <Badge variant={STATUS_VARIANT[status] ?? "outline"}>{status}</Badge>;
}

interface LiveEvent {
  seq: number;
  event_type: string;
  timestamp: string;
  payload: Record<string, unknown> | null;
}

/** One task: its events arriving live over SSE, then its report. */
function TaskView({ taskId, onClose }: { taskId: string; onClose: () => void }) {
  const queryClient = useQueryClient();
  const task = useTask(taskId);
  const [events, setEvents] = useState<LiveEvent[]>([]);
  const [streamError, setStreamError] = useState<unknown>(null);
  const [live, setLive] = useState(true);

  useEffect(() => {
    const abort = new AbortController();
    setEvents([]);
    setLive(true);
    followEvents(
      `/api/orchestrator/tasks/${taskId}/events/stream`,
      (event) => {
        if (event.event === "end") {
          setLive(false);
          void queryClient.invalidateQueries({ queryKey: keys.task(taskId) });
          void queryClient.invalidateQueries({ queryKey: ["agents"], predicate: (q) => q.queryKey[2] === "tasks" });
          return;
        }
        try {
          const e = JSON.parse(event.data) as LiveEvent;
          setEvents((prev) => (prev.some((x) => x.seq === e.seq) ? prev : [...prev, e]));
          if (e.event_type.startsWith("task_") || e.event_type.startsWith("approval_")) {
            void queryClient.invalidateQueries({ queryKey: keys.task(taskId) });
            void queryClient.invalidateQueries({ queryKey: ["agents"], predicate: (q) => q.queryKey[2] === "tasks" });
          }
        } catch {
          // not one of ours: ignore
        }
      },
      abort.signal,
    )
      .catch(setStreamError)
      .finally(() => setLive(false));
    return () => abort.abort();
  }, [taskId, queryClient]);

  const cancel = useMutation({
    mutationFn: () =>
      unwrap(orchestrator.POST("/tasks/{task_id}/cancel", { params: { path: { task_id: taskId } } })),
    onSuccess: (detail) => {
      queryClient.setQueryData(keys.task(taskId), detail);
      return queryClient.invalidateQueries({ queryKey: ["agents"], predicate: (q) => q.queryKey[2] === "tasks" });
    },
  });
  const output = task.data?.output as
    | { full_report_md?: string; summary_text?: string; answer?: string | null; evidence_md?: string }
    | null
    | undefined;
  const waiting = task.data ? waitingExplanation(task.data) : null;
  const unfinished = task.data ? !FINISHED.has(task.data.status) : false;
  return (
    <Card data-testid="task-view">
      <CardHeader>
        <div className="flex flex-wrap items-center justify-between gap-2">
          <div>
            <CardTitle>
              {task.data?.type ?? "Task"}{" "}
              {task.data ? <TaskStatusBadge status={task.data.status} /> : null}
            </CardTitle>
            <CardDescription>
              Started {when(task.data?.started_at ?? null)} · finished {when(task.data?.finished_at ?? null)}
              {live ? " · following live" : ""}
            </CardDescription>
          </div>
          <div className="flex gap-2">
            {unfinished ? (
              <Button variant="outline" size="sm" disabled={cancel.isPending} onClick={() => cancel.mutate()}>
                {cancel.isPending ? "Cancelling…" : "Cancel task"}
              </Button>
            ) : null}
            <Button variant="outline" size="sm" onClick={onClose}>
              Close
            </Button>
          </div>
        </div>
      </CardHeader>
      <CardContent className="space-y-4">
        {task.isError ? <ErrorState error={task.error} /> : null}
        <InlineError error={streamError} />
        <InlineError error={cancel.error} />
        {task.data?.status === "AWAITING_APPROVAL" ? <ApprovalBox task={task.data} /> : null}
        {waiting ? (
          <p role="status" className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm" data-testid="task-waiting">
            {waiting}
          </p>
        ) : null}
        {task.data?.error ? (
          <p role="alert" className="text-sm text-destructive">
            {task.data.error}
          </p>
        ) : null}
        <section aria-labelledby={`events-${taskId}`}>
          <h3 id={`events-${taskId}`} className="mb-2 text-sm font-semibold">
            Events
          </h3>
          <ol aria-live="polite" className="space-y-1 font-mono text-xs" data-testid="task-events">
            {events.map((e) => (
              <li key={e.seq}>
                <span className="text-muted-foreground">{new Date(e.timestamp).toLocaleTimeString()}</span>{" "}
                <span className="font-semibold">{e.event_type}</span> {describeTaskEvent(e.event_type, e.payload ?? {})}
              </li>
            ))}
            {events.length === 0 ? <li className="text-muted-foreground">Waiting for events…</li> : null}
          </ol>
        </section>
        {task.data?.status === "SUCCESS" ? (
          <OnDemand label="Show deliveries">{() => <TaskDeliveries taskId={taskId} />}</OnDemand>
        ) : null}
        {task.data?.charts && task.data.charts.length > 0 ? (
          <OnView testId="report-charts-placeholder">{() => <ReportCharts charts={task.data!.charts!} />}</OnView>
        ) : null}
        {task.data?.type === "AGENT_TASK" && output ? (
          <AgentAnswer output={output} />
        ) : output?.full_report_md ? (
          <section aria-label="Report" className="rounded-lg border p-4" data-testid="task-report">
            {task.data?.status === "SUCCESS" ? (
              <div className="mb-2 flex justify-end">
                <a
                  className="rounded-md border px-3 py-1.5 text-sm font-medium hover:bg-muted"
                  href={`/api/orchestrator/tasks/${taskId}/report.pdf`}
                  download
                  data-testid="download-pdf"
                >
                  Download PDF
                </a>
              </div>
            ) : null}
            <Markdown source={output.full_report_md} />
          </section>
        ) : task.data && FINISHED.has(task.data.status) && !task.data.error ? (
          <p className="text-sm text-muted-foreground">This task produced no report.</p>
        ) : null}
      </CardContent>
    </Card>
  );
}

function RunTestTask({ agentId, onStarted }: { agentId: string; onStarted: (id: string) => void }) {
  const queryClient = useQueryClient();
  const [source, setSource] = useState<"sample" | "local_agent">("sample");
  const [day, setDay] = useState("");
  const guard = useCreateGuard();
  const run = useMutation({
    mutationFn: () => {
      const body = { type: "DAILY_WAREHOUSE_REPORT", input: { data_source: source, ...(day ? { day } : {}) } };
      return unwrap(
        orchestrator.POST("/agents/{agent_id}/run-task", {
          params: { path: { agent_id: agentId }, header: { "Idempotency-Key": guard.keyFor(body) } },
          body,
        }),
      );
    },
    onSuccess: (created) => {
      guard.succeeded();
      onStarted(created.task_id);
      return queryClient.invalidateQueries({ queryKey: keys.allTasks(agentId) });
    },
  });
  return (
    <Card>
      <CardHeader>
        <CardTitle>Run Test Task</CardTitle>
        <CardDescription>
          The daily warehouse report, on the built-in sample warehouse or on your own data read
          by the local agent.
        </CardDescription>
      </CardHeader>
      <CardContent>
        <form
          className="flex flex-wrap items-end gap-4"
          onSubmit={(e) => {
            e.preventDefault();
            guard.once(() => run.mutateAsync());
          }}
        >
          <fieldset className="space-y-1">
            <legend className="text-sm font-medium">Data</legend>
            <label className="mr-4 inline-flex items-center gap-2 text-sm">
              <input type="radio" name="source" checked={source === "sample"} onChange={() => setSource("sample")} />
              Sample data
            </label>
            <label className="inline-flex items-center gap-2 text-sm">
              <input
                type="radio"
                name="source"
                checked={source === "local_agent"}
                onChange={() => setSource("local_agent")}
              />
              Through the local agent
            </label>
          </fieldset>
          <div className="w-44">
            <FormField label="Day (default: yesterday)">
              {(p) => <Input {...p} type="date" value={day} onChange={(e) => setDay(e.target.value)} />}
            </FormField>
          </div>
          <Button type="submit" disabled={run.isPending}>
            {run.isPending ? "Starting…" : "Run Test Task (Daily Warehouse Report)"}
          </Button>
        </form>
        <div className="mt-2">
          <InlineError error={run.error} />
        </div>
      </CardContent>
    </Card>
  );
}

/** The agent's tasks: run the test task, follow one live, and the history with a filter. */
export function TaskList({ agent }: { agent: Schemas["AgentOut"] }) {
  const agentId = agent.id;
  const [status, setStatus] = useState<TaskStatus | "">("");
  const [selected, setSelected] = useUrlParam("task");
  const tasks = useTasks(agentId, status);
  return (
    <div className="space-y-6">
      <GiveTask agent={agent} onStarted={setSelected} />
      {selected ? <TaskView key={selected} taskId={selected} onClose={() => setSelected(null)} /> : null}
      <RunTestTask agentId={agentId} onStarted={setSelected} />
      <OnDemand label="Delivery settings">{() => <DeliverySettings agentId={agentId} />}</OnDemand>
      <section aria-labelledby="history-heading" className="space-y-3">
        <div className="flex flex-wrap items-end justify-between gap-3">
          <h2 id="history-heading" className="text-lg font-semibold">
            History
          </h2>
          <div className="w-48">
            <FormField label="Status">
              {(p) => (
                <NativeSelect {...p} value={status} onChange={(e) => setStatus(e.target.value as TaskStatus | "")}>
                  <option value="">All</option>
                  {STATUSES.map((s) => (
                    <option key={s}>{s}</option>
                  ))}
                </NativeSelect>
              )}
            </FormField>
          </div>
        </div>
        {tasks.isPending ? (
          <LoadingState label="Loading tasks" />
        ) : tasks.isError ? (
          <ErrorState error={tasks.error} onRetry={() => tasks.refetch()} />
        ) : tasks.data.items.length === 0 ? (
          <EmptyState title={status ? `No ${status} tasks` : "No tasks yet"}>Run the test task above.</EmptyState>
        ) : (
          <div className="overflow-x-auto rounded-lg border bg-background">
            <table className="w-full text-sm" data-testid="task-history">
              <caption className="sr-only">Tasks of this agent, newest first</caption>
              <thead className="bg-muted/50 text-left text-muted-foreground">
                <tr>
                  <th scope="col" className="px-4 py-2 font-medium">Type</th>
                  <th scope="col" className="px-4 py-2 font-medium">Status</th>
                  <th scope="col" className="px-4 py-2 font-medium">Trigger</th>
                  <th scope="col" className="px-4 py-2 font-medium">Created</th>
                  <th scope="col" className="px-4 py-2"><span className="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {tasks.data.items.map((t) => (
                  <tr key={t.id} className="border-t align-top">
                    <td className="px-4 py-2 font-medium">{t.type}</td>
                    <td className="px-4 py-2">
                      <TaskStatusBadge status={t.status} />
                      {t.error ? <p className="mt-1 text-xs text-destructive">{t.error}</p> : null}
                    </td>
                    <td className="px-4 py-2">{t.trigger}</td>
                    <td className="px-4 py-2 text-muted-foreground">{when(t.created_at)}</td>
                    <td className="px-4 py-2 text-right">
                      <Button variant="outline" size="sm" onClick={() => setSelected(t.id)}>
                        View
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {tasks.data.total > tasks.data.items.length ? (
              <p className="border-t px-4 py-2 text-xs text-muted-foreground">
                Showing the latest {tasks.data.items.length} of {tasks.data.total}.
              </p>
            ) : null}
          </div>
        )}
      </section>
    </div>
  );
}
