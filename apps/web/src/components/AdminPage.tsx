"use client";

import Link from "next/link";

import { PageHeader } from "@/components/DashboardLayout";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { useAdminFailures, useAdminOrgs, useMe } from "@/lib/api/queries";

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
