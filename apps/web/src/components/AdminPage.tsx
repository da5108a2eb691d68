"use client";

import Link from "next/link";
import { Fragment, useState } from "react";

import { PageHeader } from "@/components/DashboardLayout";
import { FormField } from "@/components/form-field";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { TaskStatusBadge } from "@/components/TaskList";
import { Button } from "@/components/ui/button";
import { Input, NativeSelect } from "@/components/ui/input";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import {
  useAdminFailures,
  useAdminOrgs,
  useAdminTask,
  useAdminTasks,
  useMe,
  type AdminTaskFilters,
  type TaskStatus,
} from "@/lib/api/queries";

const STATUSES: TaskStatus[] = ["PENDING", "RUNNING", "WAITING", "SUCCESS", "FAILED", "CANCELLED"];

const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 4 });
const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "—");

function OrgUsage() {
  const orgs = useAdminOrgs(true);
  if (orgs.isPending) return <LoadingState label="Loading organizations" />;
  if (orgs.isError) return <ErrorState error={orgs.error} onRetry={() => orgs.refetch()} />;
  if (orgs.data.length === 0) return <EmptyState title="No organizations yet" />;
  return (
    <div className="overflow-x-auto rounded-lg border bg-background">
      <table className="w-full text-sm" data-testid="admin-orgs">
        <caption className="sr-only">Organizations with this month&apos;s usage</caption>
        <thead className="bg-muted/50 text-left text-muted-foreground">
          <tr>
            {["Organization", "Members", "Agents", "Documents (failed)", "Tasks this month (failed)", "LLM calls", "LLM tokens", "LLM cost"].map(
              (h) => (
                <th key={h} scope="col" className="px-3 py-2 font-medium">
                  {h}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>
          {orgs.data.map((o) => (
            <tr key={o.id} className="border-t">
              <td className="px-3 py-2">
                <div className="font-medium">{o.name}</div>
                <div className="text-xs text-muted-foreground">since {when(o.created_at)}</div>
              </td>
              <td className="px-3 py-2 tabular-nums">{o.members}</td>
              <td className="px-3 py-2 tabular-nums">{o.agents}</td>
              <td className="px-3 py-2 tabular-nums">
                {o.documents} ({o.documents_failed})
              </td>
              <td className="px-3 py-2 tabular-nums">
                {o.tasks_month} ({o.tasks_failed_month})
              </td>
              <td className="px-3 py-2 tabular-nums">{o.llm_calls_month}</td>
              <td className="px-3 py-2 tabular-nums">
                {o.llm_tokens_month.toLocaleString()}
                {o.monthly_token_budget ? ` / ${o.monthly_token_budget.toLocaleString()}` : ""}
              </td>
              <td className="px-3 py-2 tabular-nums">{usd.format(o.llm_cost_usd_month)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Failures() {
  const failures = useAdminFailures(true);
  if (failures.isPending) return <LoadingState label="Loading failures" />;
  if (failures.isError) return <ErrorState error={failures.error} onRetry={() => failures.refetch()} />;
  const { documents, profile_generations: generations, jobs } = failures.data;
  return (
    <div className="grid gap-4 lg:grid-cols-3">
      <Card>
        <CardHeader>
          <CardTitle>Failed documents</CardTitle>
        </CardHeader>
        <CardContent>
          {documents.length === 0 ? (
            <p className="text-sm text-muted-foreground">None.</p>
          ) : (
            <ul className="space-y-3 text-sm">
              {documents.map((d) => (
                <li key={d.id}>
                  <div className="font-medium">
                    {d.name} <span className="text-muted-foreground">({d.org_name})</span>
                  </div>
                  <div className="text-destructive">{d.error ?? "no error recorded"}</div>
                  <div className="text-xs text-muted-foreground">{when(d.updated_at)}</div>
                </li>
              ))}
            </ul>
          )}
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>Failed profile generations</CardTitle>
        </CardHeader>
        <CardContent>
          {generations.length === 0 ? (
            <p className="text-sm text-muted-foreground">None.</p>
          ) : (
            <ul className="space-y-3 text-sm">
              {generations.map((g) => (
                <li key={g.id}>
                  <div className="font-medium">{g.org_name}</div>
                  <div className="text-destructive">{g.error ?? "no error recorded"}</div>
                  <div className="text-xs text-muted-foreground">{when(g.updated_at)}</div>
                </li>
              ))}
            </ul>
          )}
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>Failed background jobs</CardTitle>
          <CardDescription>The error is on the document or generation the job served.</CardDescription>
        </CardHeader>
        <CardContent>
          {jobs.length === 0 ? (
            <p className="text-sm text-muted-foreground">None.</p>
          ) : (
            <ul className="space-y-3 text-sm">
              {jobs.map((j) => (
                <li key={j.id}>
                  <div className="font-medium">
                    #{j.id} {j.task_name}
                  </div>
                  <div className="font-mono text-xs">{JSON.stringify(j.args)}</div>
                  <div className="text-xs text-muted-foreground">
                    {j.attempts} attempt(s) · {when(j.failed_at)}
                  </div>
                </li>
              ))}
            </ul>
          )}
        </CardContent>
      </Card>
    </div>
  );
}

function AdminTaskEvents({ taskId }: { taskId: string }) {
  const task = useAdminTask(taskId);
  if (task.isPending) return <LoadingState label="Loading events" rows={2} />;
  if (task.isError) return <ErrorState error={task.error} />;
  return (
    <ol className="space-y-1 font-mono text-xs" data-testid="admin-task-events">
      {task.data.events.map((e) => (
        <li key={e.seq}>
          <span className="text-muted-foreground">{new Date(e.timestamp).toLocaleTimeString()}</span>{" "}
          <span className="font-semibold">{e.event_type}</span>{" "}
          {e.payload ? JSON.stringify(e.payload).slice(0, 200) : ""}
        </li>
      ))}
    </ol>
  );
}

function AdminTasks() {
  const orgs = useAdminOrgs(true);
  const [filters, setFilters] = useState<AdminTaskFilters>({ status: "", type: "", org_id: "" });
  const [open, setOpen] = useState<string | null>(null);
  const tasks = useAdminTasks(filters);
  return (
    <div className="space-y-3">
      <form className="grid gap-3 sm:grid-cols-3" onSubmit={(e) => e.preventDefault()} aria-label="Task filters">
        <FormField label="Status">
          {(p) => (
            <NativeSelect
              {...p}
              value={filters.status}
              onChange={(e) => setFilters({ ...filters, status: e.target.value as TaskStatus | "" })}
            >
              <option value="">All</option>
              {STATUSES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </NativeSelect>
          )}
        </FormField>
        <FormField label="Type">
          {(p) => (
            <Input
              {...p}
              placeholder="e.g. DAILY_WAREHOUSE_REPORT"
              value={filters.type}
              onChange={(e) => setFilters({ ...filters, type: e.target.value.trim() })}
            />
          )}
        </FormField>
        <FormField label="Organization">
          {(p) => (
            <NativeSelect
              {...p}
              value={filters.org_id}
              onChange={(e) => setFilters({ ...filters, org_id: e.target.value })}
            >
              <option value="">All</option>
              {orgs.data?.map((o) => (
                <option key={o.id} value={o.id}>
                  {o.name}
                </option>
              ))}
            </NativeSelect>
          )}
        </FormField>
      </form>
      {tasks.isPending ? (
        <LoadingState label="Loading tasks" />
      ) : tasks.isError ? (
        <ErrorState error={tasks.error} onRetry={() => tasks.refetch()} />
      ) : tasks.data.items.length === 0 ? (
        <EmptyState title="No tasks match" />
      ) : (
        <div className="overflow-x-auto rounded-lg border bg-background">
          <table className="w-full text-sm" data-testid="admin-tasks">
            <caption className="sr-only">Tasks across all organizations</caption>
            <thead className="bg-muted/50 text-left text-muted-foreground">
              <tr>
                {["Organization", "Agent", "Type", "Status", "Created", ""].map((h, i) => (
                  <th key={i} scope="col" className="px-3 py-2 font-medium">
                    {h || <span className="sr-only">Events</span>}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {tasks.data.items.map((t) => (
                <Fragment key={t.id}>
                  <tr className="border-t align-top">
                    <td className="px-3 py-2">{t.org_name}</td>
                    <td className="px-3 py-2">{t.agent_name}</td>
                    <td className="px-3 py-2">{t.type}</td>
                    <td className="px-3 py-2">
                      <TaskStatusBadge status={t.status} />
                      {t.error ? <p className="mt-1 text-xs text-destructive">{t.error}</p> : null}
                    </td>
                    <td className="px-3 py-2 text-muted-foreground">{when(t.created_at)}</td>
                    <td className="px-3 py-2 text-right">
                      <Button
                        variant="outline"
                        size="sm"
                        aria-expanded={open === t.id}
                        onClick={() => setOpen(open === t.id ? null : t.id)}
                      >
                        Events
                      </Button>
                    </td>
                  </tr>
                  {open === t.id ? (
                    <tr>
                      <td colSpan={6} className="bg-muted/30 px-3 py-2">
                        <AdminTaskEvents taskId={t.id} />
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
          {tasks.data.total > tasks.data.items.length ? (
            <p className="border-t px-3 py-2 text-xs text-muted-foreground">
              Showing the latest {tasks.data.items.length} of {tasks.data.total}.
            </p>
          ) : null}
        </div>
      )}
    </div>
  );
}

export function AdminPage() {
  const me = useMe();
  if (me.isPending) return <LoadingState label="Loading" />;
  if (me.isError) return <ErrorState error={me.error} />;
  if (!me.data.is_platform_admin) {
    return (
      <EmptyState title="Not found">
        <Link className="underline" href="/dashboard">
          Back to the dashboard
        </Link>
      </EmptyState>
    );
  }
  return (
    <>
      <PageHeader title="Platform admin" description="Every organization, and what is failing." />
      <div className="space-y-8">
        <section aria-labelledby="usage-heading" className="space-y-3">
          <h2 id="usage-heading" className="text-lg font-semibold">
            Organizations and usage this month
          </h2>
          <OrgUsage />
        </section>
        <section aria-labelledby="tasks-heading" className="space-y-3">
          <h2 id="tasks-heading" className="text-lg font-semibold">
            Tasks across organizations
          </h2>
          <AdminTasks />
        </section>
        <section aria-labelledby="failures-heading" className="space-y-3">
          <h2 id="failures-heading" className="text-lg font-semibold">
            Failures
          </h2>
          <Failures />
        </section>
      </div>
    </>
  );
}
