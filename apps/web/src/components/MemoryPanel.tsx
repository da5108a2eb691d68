"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";

import { FormField } from "@/components/form-field";
import { EmptyState, ErrorState, InlineError, LoadingState } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, Textarea } from "@/components/ui/input";
import { core, unwrap, type Schemas } from "@/lib/api/client";
import { useMe } from "@/lib/api/queries";
import { useCreateGuard } from "@/lib/create-guard";

type Memory = Schemas["MemoryRecord"] & { score?: number | null };
const PAGE = 20;

// The two namespaces have their own routes; these pick the one of a namespace (or memory).
const memoryApi = {
  list: (orgId: string, agentId: string | null, offset: number) =>
    unwrap(
      agentId
        ? core.GET("/orgs/{org_id}/agents/{agent_id}/memories", {
            params: { path: { org_id: orgId, agent_id: agentId }, query: { limit: PAGE, offset } },
          })
        : core.GET("/orgs/{org_id}/memories", {
            params: { path: { org_id: orgId }, query: { limit: PAGE, offset } },
          }),
    ),
  search: (orgId: string, agentId: string | null, query: string) =>
    unwrap(
      agentId
        ? core.POST("/orgs/{org_id}/agents/{agent_id}/memories/search", {
            params: { path: { org_id: orgId, agent_id: agentId } },
            body: { query, top_k: 10, include_org: true },
          })
        : core.POST("/orgs/{org_id}/memories/search", {
            params: { path: { org_id: orgId } },
            body: { query, top_k: 10, include_org: true },
          }),
    ),
  add: (orgId: string, agentId: string | null, body: Schemas["MemoryIn"], key: string) =>
    unwrap(
      agentId
        ? core.POST("/orgs/{org_id}/agents/{agent_id}/memories", {
            params: { path: { org_id: orgId, agent_id: agentId }, header: { "Idempotency-Key": key } },
            body,
          })
        : core.POST("/orgs/{org_id}/memories", {
            params: { path: { org_id: orgId }, header: { "Idempotency-Key": key } },
            body,
          }),
    ),
  edit: (m: Memory, body: Schemas["MemoryPatch"]) =>
    unwrap(
      m.agent_id
        ? core.PATCH("/orgs/{org_id}/agents/{agent_id}/memories/{memory_id}", {
            params: { path: { org_id: m.org_id, agent_id: m.agent_id, memory_id: m.id } },
            body,
          })
        : core.PATCH("/orgs/{org_id}/memories/{memory_id}", {
            params: { path: { org_id: m.org_id, memory_id: m.id } },
            body,
          }),
    ),
  remove: (m: Memory) =>
    unwrap(
      m.agent_id
        ? core.DELETE("/orgs/{org_id}/agents/{agent_id}/memories/{memory_id}", {
            params: { path: { org_id: m.org_id, agent_id: m.agent_id, memory_id: m.id } },
          })
        : core.DELETE("/orgs/{org_id}/memories/{memory_id}", {
            params: { path: { org_id: m.org_id, memory_id: m.id } },
          }),
    ),
};

// Changed after it was written (a vector added later by a worker does not count: no one
// is named as having changed it then).
const edited = (m: Memory) =>
  m.updated_by !== null && Date.parse(m.updated_at) - Date.parse(m.created_at) > 1000;

/** Where a memory came from, with a link to the task that wrote it. */
function Source({ memory, agentId }: { memory: Memory; agentId: string | null }) {
  const date = memory.report_day ?? memory.created_at.slice(0, 10);
  if (memory.source === "task") {
    const what = memory.report_day ? `the report of ${memory.report_day}` : `a task on ${date}`;
    const owner = memory.agent_id ?? agentId;
    return (
      <span>
        Remembered from {what}
        {memory.source_task_id && owner ? (
          <>
            {" "}
            (<Link className="underline" href={`/agents/${owner}?tab=tasks&task=${memory.source_task_id}`}>
              task {memory.source_task_id.slice(0, 8)}
            </Link>
            )
          </>
        ) : null}
      </span>
    );
  }
  return <span>Noted by a person on {date}</span>;
}

function MemoryItem({
  memory,
  agentId,
  mayChange,
  onChanged,
}: {
  memory: Memory;
  agentId: string | null;
  mayChange: boolean;
  onChanged: () => Promise<unknown>;
}) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(memory.text);
  const save = useMutation({
    mutationFn: () => memoryApi.edit(memory, { text }),
    onSuccess: () => {
      setEditing(false);
      return onChanged();
    },
  });
  const remove = useMutation({
    mutationFn: () => memoryApi.remove(memory),
    onSuccess: onChanged,
  });
  return (
    <li className="space-y-2 border-t px-4 py-3 first:border-t-0" data-testid="memory" data-memory-id={memory.id}>
      {editing ? (
        <form
          className="space-y-2"
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate();
          }}
        >
          <FormField label="Text">
            {(p) => <Textarea {...p} rows={3} value={text} onChange={(e) => setText(e.target.value)} />}
          </FormField>
          <div className="flex gap-2">
            <Button type="submit" size="sm" disabled={save.isPending}>
              Save
            </Button>
            <Button type="button" size="sm" variant="outline" onClick={() => setEditing(false)}>
              Cancel
            </Button>
          </div>
          <InlineError error={save.error} />
        </form>
      ) : (
        <p className="whitespace-pre-wrap text-sm">{memory.text}</p>
      )}
      <div className="flex flex-wrap items-center gap-2 text-xs text-muted-foreground">
        {memory.namespace === "org" && agentId ? <Badge variant="secondary">Organization</Badge> : null}
        <Source memory={memory} agentId={agentId} />
        {edited(memory) ? <span>· edited {memory.updated_at.slice(0, 10)}</span> : null}
        {memory.valid_until ? <span>· until {new Date(memory.valid_until).toLocaleString()}</span> : null}
        {!memory.embedded ? <span>· found by its words only until it is embedded</span> : null}
        {typeof memory.score === "number" ? <span>· match {memory.score.toFixed(2)}</span> : null}
        {mayChange && !editing ? (
          <span className="ml-auto flex gap-2">
            <Button size="sm" variant="outline" onClick={() => setEditing(true)}>
              Edit
            </Button>
            <Button
              size="sm"
              variant="outline"
              disabled={remove.isPending}
              onClick={() => {
                if (window.confirm("Delete this memory? The agent will no longer recall it.")) remove.mutate();
              }}
            >
              Delete
            </Button>
          </span>
        ) : null}
      </div>
      <InlineError error={remove.error} />
    </li>
  );
}

/**
 * A namespace's memories: the agent's own (``agentId``) or the organization's. Search, add,
 * edit and delete, each memory with its source and date.
 */
export function MemoryPanel({
  orgId,
  agentId = null,
  role,
}: {
  orgId: string;
  agentId?: string | null;
  role: string;
}) {
  const base = agentId ?? `org:${orgId}`;
  const manager = role === "OWNER" || role === "ADMIN";
  const canAdd = agentId ? true : manager;
  const me = useMe();
  const queryClient = useQueryClient();
  const [offset, setOffset] = useState(0);
  const [text, setText] = useState("");
  const [until, setUntil] = useState("");
  const [query, setQuery] = useState("");
  const [asked, setAsked] = useState("");
  const listKey = ["memories", base, offset] as const;
  const list = useQuery({
    queryKey: listKey,
    queryFn: () => memoryApi.list(orgId, agentId, offset),
  });
  const search = useQuery({
    queryKey: ["memories", base, "search", asked],
    queryFn: () => memoryApi.search(orgId, agentId, asked),
    enabled: asked !== "",
  });
  // An edit from the agent's tab may touch an organization memory: refresh every list.
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["memories"] });
  const guard = useCreateGuard();
  const add = useMutation({
    mutationFn: () => {
      const body = { text, valid_until: until ? new Date(until).toISOString() : null };
      return memoryApi.add(orgId, agentId, body, guard.keyFor({ orgId, agentId, ...body }));
    },
    onSuccess: () => {
      guard.succeeded();
      setText("");
      setUntil("");
      setOffset(0);
      return refresh();
    },
  });
  const mayChange = (m: Memory) =>
    manager || (agentId !== null && m.namespace === "agent" && m.source === "user" && m.source_user_id === me.data?.id);
  const shown: Memory[] | undefined = asked ? search.data?.results : list.data?.items;
  const pending = asked ? search.isPending : list.isPending;
  const error = asked ? search.error : list.error;

  return (
    <div className="space-y-6">
      {canAdd ? (
        <Card>
          <CardHeader>
            <CardTitle>Remember a fact</CardTitle>
            <CardDescription>
              {agentId
                ? "This agent recalls it when it answers questions and runs tasks."
                : "Every agent of the organization recalls it."}{" "}
              One fact per memory, in plain words.
            </CardDescription>
          </CardHeader>
          <CardContent>
            <form
              className="space-y-3"
              onSubmit={(e) => {
                e.preventDefault();
                guard.once(() => add.mutateAsync());
              }}
            >
              <FormField label="Fact">
                {(p) => (
                  <Textarea
                    {...p}
                    rows={2}
                    value={text}
                    placeholder="Dock 4 is closed for repairs until Friday."
                    onChange={(e) => setText(e.target.value)}
                  />
                )}
              </FormField>
              <div className="flex flex-wrap items-end gap-3">
                <div className="w-60">
                  <FormField label="Forget after (optional)">
                    {(p) => <Input {...p} type="datetime-local" value={until} onChange={(e) => setUntil(e.target.value)} />}
                  </FormField>
                </div>
                <Button type="submit" disabled={add.isPending || !text.trim()}>
                  {add.isPending ? "Saving…" : "Remember"}
                </Button>
              </div>
              <InlineError error={add.error} />
            </form>
          </CardContent>
        </Card>
      ) : null}
      <section aria-labelledby={`memories-${agentId ?? orgId}`} className="space-y-3">
        <div className="flex flex-wrap items-end justify-between gap-3">
          <h2 id={`memories-${agentId ?? orgId}`} className="text-lg font-semibold">
            {asked ? `Recalled for “${asked}”` : `Memories${list.data ? ` (${list.data.total})` : ""}`}
          </h2>
          <form
            className="flex items-end gap-2"
            role="search"
            onSubmit={(e) => {
              e.preventDefault();
              setAsked(query.trim());
            }}
          >
            <div className="w-72">
              <FormField label={agentId ? "Search (with the organization's)" : "Search"}>
                {(p) => <Input {...p} value={query} onChange={(e) => setQuery(e.target.value)} />}
              </FormField>
            </div>
            <Button type="submit" variant="outline">
              Search
            </Button>
            {asked ? (
              <Button
                type="button"
                variant="outline"
                onClick={() => {
                  setQuery("");
                  setAsked("");
                }}
              >
                Clear
              </Button>
            ) : null}
          </form>
        </div>
        {pending ? (
          <LoadingState label="Loading memories" />
        ) : error ? (
          <ErrorState error={error} />
        ) : !shown || shown.length === 0 ? (
          <EmptyState title={asked ? "Nothing recalled" : "Nothing remembered yet"}>
            {asked
              ? "No memory matches this question."
              : agentId
                ? "Reports remember their day's figures here; you can add facts above."
                : "Facts added here are recalled by every agent of the organization."}
          </EmptyState>
        ) : (
          <ul className="rounded-lg border bg-background" data-testid="memory-list">
            {shown.map((m) => (
              <MemoryItem
                key={m.id}
                memory={m}
                agentId={agentId}
                mayChange={mayChange(m) && (m.namespace === "agent" || manager)}
                onChanged={refresh}
              />
            ))}
          </ul>
        )}
        {!asked && list.data && list.data.total > PAGE ? (
          <div className="flex items-center gap-2 text-sm">
            <Button variant="outline" size="sm" disabled={offset === 0} onClick={() => setOffset(offset - PAGE)}>
              Newer
            </Button>
            <span>
              {offset + 1}–{Math.min(offset + PAGE, list.data.total)} of {list.data.total}
            </span>
            <Button
              variant="outline"
              size="sm"
              disabled={offset + PAGE >= list.data.total}
              onClick={() => setOffset(offset + PAGE)}
            >
              Older
            </Button>
          </div>
        ) : null}
      </section>
    </div>
  );
}
