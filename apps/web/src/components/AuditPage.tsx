"use client";

import { useState } from "react";

import { FormField } from "@/components/form-field";
import { OrgFrame } from "@/components/OrgPages";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, NativeSelect } from "@/components/ui/input";
import type { Schemas } from "@/lib/api/client";
import { auditQuery, useAuditEvents, type AuditFilters } from "@/lib/api/queries";

// The families of actions (phi_service/audit/actions.py); the API takes a family or an action.
const FAMILIES: [string, string][] = [
  ["", "Every action"],
  ["org", "Organization"],
  ["budget", "Token budget"],
  ["member", "Members and invitations"],
  ["auth", "Failed sign-ins"],
  ["agent", "Agents and their tools"],
  ["document", "Documents"],
  ["profile", "Profiles"],
  ["config", "Config downloads"],
  ["local_agent_key", "Local-agent keys"],
  ["local_agent", "Local-agent refusals"],
  ["task", "Tasks"],
  ["approval", "Approvals"],
  ["memory", "Memories"],
  ["delivery_destination", "Delivery destinations"],
];

const EMPTY: AuditFilters = { actor: "", action: "", since: "", until: "" };
const when = (iso: string) => new Date(iso).toLocaleString();

function tone(action: string): "destructive" | "secondary" | "outline" {
  if (action === "auth.sign_in_failed" || action === "local_agent.refused") return "destructive";
  if (action === "approval.expired") return "secondary";
  if (action.endsWith(".deleted") || action.endsWith(".revoked") || action.endsWith(".removed"))
    return "secondary";
  return "outline";
}

function EventRow({ event }: { event: Schemas["AuditEventOut"] }) {
  return (
    <li className="flex flex-col gap-1 border-t px-4 py-3 first:border-t-0 sm:flex-row sm:items-baseline sm:gap-4">
      <time dateTime={event.occurred_at} className="shrink-0 text-xs tabular-nums text-muted-foreground sm:w-44">
        {when(event.occurred_at)}
      </time>
      <div className="min-w-0 flex-1">
        <p className="text-sm">{event.summary}</p>
        <p className="mt-0.5 flex flex-wrap items-center gap-2 text-xs text-muted-foreground">
          <Badge variant={tone(event.action)}>{event.action}</Badge>
          {event.client_address ? <span>from {event.client_address}</span> : null}
          {event.request_id ? <span className="font-mono">request {event.request_id.slice(0, 12)}</span> : null}
        </p>
      </div>
    </li>
  );
}

function exportHref(orgId: string, filters: AuditFilters, format: "csv" | "jsonl") {
  const query = new URLSearchParams({ ...auditQuery(filters), format });
  return `/api/core/orgs/${orgId}/audit/export?${query.toString()}`;
}

function Filters({ onApply, initial }: { onApply: (f: AuditFilters) => void; initial: AuditFilters }) {
  const [draft, setDraft] = useState(initial);
  const set = (key: keyof AuditFilters) => (e: { target: { value: string } }) =>
    setDraft({ ...draft, [key]: e.target.value });
  return (
    <form
      className="grid gap-3 sm:grid-cols-5 sm:items-end"
      onSubmit={(e) => {
        e.preventDefault();
        onApply(draft);
      }}
    >
      <FormField label="Who">
        {(p) => <Input {...p} placeholder="email, name or id" value={draft.actor} onChange={set("actor")} />}
      </FormField>
      <FormField label="What">
        {(p) => (
          <NativeSelect {...p} value={draft.action} onChange={set("action")}>
            {FAMILIES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </NativeSelect>
        )}
      </FormField>
      <FormField label="From">
        {(p) => <Input {...p} type="date" value={draft.since} onChange={set("since")} />}
      </FormField>
      <FormField label="To">
        {(p) => <Input {...p} type="date" value={draft.until} onChange={set("until")} />}
      </FormField>
      <div className="flex gap-2">
        <Button type="submit">Filter</Button>
        <Button
          type="button"
          variant="ghost"
          onClick={() => {
            setDraft(EMPTY);
            onApply(EMPTY);
          }}
        >
          Clear
        </Button>
      </div>
    </form>
  );
}

function AuditLog({ orgId }: { orgId: string }) {
  const [filters, setFilters] = useState<AuditFilters>(EMPTY);
  const events = useAuditEvents(orgId, filters);
  const items = events.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <div className="space-y-6">
      <Card>
        <CardHeader className="flex flex-row flex-wrap items-start justify-between gap-3">
          <div>
            <CardTitle>Audit log</CardTitle>
            <CardDescription>
              Who did what in this organization: people, local agents, schedules, and tasks acting
              on their own. Kept for a year by default; nobody can change or delete an entry.
            </CardDescription>
          </div>
          <div className="flex gap-2">
            <Button asChild variant="outline" size="sm">
              <a href={exportHref(orgId, filters, "csv")} download>
                Export CSV
              </a>
            </Button>
            <Button asChild variant="outline" size="sm">
              <a href={exportHref(orgId, filters, "jsonl")} download>
                Export JSON Lines
              </a>
            </Button>
          </div>
        </CardHeader>
        <CardContent>
          <Filters initial={filters} onApply={setFilters} />
        </CardContent>
      </Card>
      {events.isPending ? (
        <LoadingState label="Loading the audit log" />
      ) : events.isError ? (
        <ErrorState error={events.error} onRetry={() => events.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState title="No events match">Try another filter or a wider time range.</EmptyState>
      ) : (
        <div className="space-y-3">
          <ol className="rounded-lg border bg-background" data-testid="audit-events">
            {items.map((e) => (
              <EventRow key={e.id} event={e} />
            ))}
          </ol>
          {events.hasNextPage ? (
            <Button variant="outline" onClick={() => events.fetchNextPage()} disabled={events.isFetchingNextPage}>
              {events.isFetchingNextPage ? "Loading…" : "Older events"}
            </Button>
          ) : null}
        </div>
      )}
    </div>
  );
}

export function OrgAudit({ orgId }: { orgId: string }) {
  return (
    <OrgFrame orgId={orgId} title="Audit log">
      {(org) =>
        org.my_role === "OWNER" || org.my_role === "ADMIN" ? (
          <AuditLog orgId={orgId} />
        ) : (
          <EmptyState title="Only an OWNER or ADMIN can read the audit log">
            Ask one of them to export it for you.
          </EmptyState>
        )
      }
    </OrgFrame>
  );
}
