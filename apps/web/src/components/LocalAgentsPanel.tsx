"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { FormField } from "@/components/form-field";
import { EmptyState, ErrorState, InlineError, LoadingState } from "@/components/states";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { orchestrator, unwrap, type OrchestratorSchemas } from "@/lib/api/client";
import { ApiError } from "@/lib/api/errors";
import { keys, useLocalAgentKeys, useLocalAgents } from "@/lib/api/queries";
import { useCreateGuard } from "@/lib/create-guard";

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "never");

function NewKey({ agentId }: { agentId: string }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState("warehouse-pc");
  const [created, setCreated] = useState<OrchestratorSchemas["KeyCreated"] | null>(null);
  const guard = useCreateGuard();
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        orchestrator.POST("/agents/{agent_id}/local-agent-keys", {
          params: { path: { agent_id: agentId }, header: { "Idempotency-Key": guard.keyFor({ name }) } },
          body: { name },
        }),
      ),
    onSuccess: (key) => {
      guard.succeeded();
      setCreated(key);
      return queryClient.invalidateQueries({ queryKey: keys.keys(agentId) });
    },
  });
  const fieldError = create.error instanceof ApiError ? create.error.fields.name : undefined;
  return (
    <div className="space-y-3">
      <form
        className="flex flex-wrap items-end gap-3"
        onSubmit={(e) => {
          e.preventDefault();
          guard.once(() => create.mutateAsync());
        }}
      >
        <div className="min-w-60 flex-1">
          <FormField label="Key name" hint="Where the local agent runs, e.g. the warehouse PC." error={fieldError}>
            {(p) => <Input {...p} value={name} onChange={(e) => setName(e.target.value)} />}
          </FormField>
        </div>
        <Button type="submit" disabled={create.isPending || !name.trim()}>
          {create.isPending ? "Creating…" : "Create key"}
        </Button>
      </form>
      {!fieldError ? <InlineError error={create.error} /> : null}
      {created ? (
        <Alert>
          <AlertTitle>Key “{created.name}” created: copy it now</AlertTitle>
          <AlertDescription>
            <p>It is shown only once; the platform keeps only a hash of it.</p>
            <div className="mt-2 flex items-center gap-2">
              <code
                className="block flex-1 overflow-x-auto rounded bg-muted px-2 py-1 font-mono text-xs"
                data-testid="new-key-secret"
              >
                {created.key}
              </code>
              <Button
                type="button"
                variant="outline"
                size="sm"
                onClick={() => void navigator.clipboard?.writeText(created.key)}
              >
                Copy
              </Button>
            </div>
            <p className="mt-2 text-xs text-muted-foreground">
              On the machine: put <code>PHI_AGENT_KEY=&lt;key&gt;</code> in the agent&apos;s env file,
              save the config from the Config tab as <code>phi-agent-config.yaml</code>, then run{" "}
              <code>phi-agent check</code> and <code>phi-agent run</code>.
            </p>
          </AlertDescription>
        </Alert>
      ) : null}
    </div>
  );
}

function KeyRow({ agentId, k }: { agentId: string; k: OrchestratorSchemas["KeyOut"] }) {
  const queryClient = useQueryClient();
  const revoke = useMutation({
    mutationFn: () =>
      unwrap(
        orchestrator.DELETE("/agents/{agent_id}/local-agent-keys/{key_id}", {
          params: { path: { agent_id: agentId, key_id: k.id } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: keys.keys(agentId) }),
  });
  return (
    <tr className="border-t align-top">
      <td className="px-4 py-2 font-medium">{k.name}</td>
      <td className="px-4 py-2 font-mono text-xs">{k.prefix}…</td>
      <td className="px-4 py-2 text-muted-foreground">{when(k.last_used_at)}</td>
      <td className="px-4 py-2">
        {k.revoked_at ? <Badge variant="secondary">revoked</Badge> : <Badge variant="success">active</Badge>}
      </td>
      <td className="px-4 py-2 text-right">
        {!k.revoked_at ? (
          <Button
            variant="outline"
            size="sm"
            aria-label={`Revoke key ${k.name}`}
            disabled={revoke.isPending}
            onClick={() => revoke.mutate()}
          >
            Revoke
          </Button>
        ) : null}
        <InlineError error={revoke.error} />
      </td>
    </tr>
  );
}

const STATUS_VARIANT = { ACTIVE: "success", OFFLINE: "destructive", ENROLLED: "secondary" } as const;

type ContractCheck = OrchestratorSchemas["ContractCheckReport"];

/** The last `phi-agent contract check` the local agent reported: fine, or which tables are
 * wrong and why, and when it ran. */
function ContractCheckSummary({ reports }: { reports: ContractCheck[] | null | undefined }) {
  if (!reports || reports.length === 0) {
    return (
      <p className="w-full text-xs text-muted-foreground" data-testid="contract-check">
        Data contract not checked yet: on the machine, run{" "}
        <code>phi-agent contract check --policy policy.yaml</code> (see the local agent guide).
      </p>
    );
  }
  return (
    <div className="w-full space-y-2" data-testid="contract-check">
      {reports.map((r) => {
        const wrong = r.tables.filter((t) => !t.ok);
        return (
          <div key={r.contract} className="rounded-md bg-muted/40 p-2 text-xs">
            <div className="flex flex-wrap items-center gap-2">
              <span className="font-medium">Data contract “{r.contract}”</span>
              <Badge variant={r.ok ? "success" : "destructive"}>{r.ok ? "fine" : "problems"}</Badge>
              <span className="text-muted-foreground">
                {r.ok
                  ? `all ${r.tables.length} tables fine`
                  : `${wrong.length} of ${r.tables.length} tables wrong: ${wrong.map((t) => t.table).join(", ")}`}{" "}
                · checked {when(r.checked_at)}
                {r.connection ? ` on connection ${r.connection}` : ""}
              </span>
            </div>
            {wrong.length > 0 ? (
              <ul className="mt-1 list-disc space-y-0.5 pl-5">
                {wrong.flatMap((t) =>
                  (t.problems ?? []).map((p, i) => (
                    <li key={`${t.table}-${i}`} className="break-words font-mono">
                      {p}
                    </li>
                  )),
                )}
              </ul>
            ) : null}
          </div>
        );
      })}
    </div>
  );
}

export function LocalAgentsPanel({ agentId }: { agentId: string }) {
  const keyList = useLocalAgentKeys(agentId);
  const agents = useLocalAgents(agentId);
  return (
    <div className="space-y-6">
      <Card>
        <CardHeader>
          <CardTitle>Local agent keys</CardTitle>
          <CardDescription>
            The local agent on your machine signs in with a key; it can only work for this agent.
          </CardDescription>
        </CardHeader>
        <CardContent className="space-y-4">
          <NewKey agentId={agentId} />
          {keyList.isPending ? (
            <LoadingState label="Loading keys" rows={2} />
          ) : keyList.isError ? (
            <ErrorState error={keyList.error} onRetry={() => keyList.refetch()} />
          ) : keyList.data.items.length === 0 ? (
            <EmptyState title="No keys yet" />
          ) : (
            <div className="overflow-x-auto rounded-lg border">
              <table className="w-full text-sm">
                <caption className="sr-only">Local agent keys</caption>
                <thead className="bg-muted/50 text-left text-muted-foreground">
                  <tr>
                    <th scope="col" className="px-4 py-2 font-medium">Name</th>
                    <th scope="col" className="px-4 py-2 font-medium">Key</th>
                    <th scope="col" className="px-4 py-2 font-medium">Last used</th>
                    <th scope="col" className="px-4 py-2 font-medium">State</th>
                    <th scope="col" className="px-4 py-2"><span className="sr-only">Actions</span></th>
                  </tr>
                </thead>
                <tbody>
                  {keyList.data.items.map((k) => (
                    <KeyRow key={k.id} agentId={agentId} k={k} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>Connected local agents</CardTitle>
          <CardDescription>Each one appears with its first heartbeat.</CardDescription>
        </CardHeader>
        <CardContent>
          {agents.isPending ? (
            <LoadingState label="Loading local agents" rows={2} />
          ) : agents.isError ? (
            <ErrorState error={agents.error} onRetry={() => agents.refetch()} />
          ) : agents.data.items.length === 0 ? (
            <EmptyState title="No local agent has connected yet">
              Create a key, download the config and start <code>phi-agent</code> with them.
            </EmptyState>
          ) : (
            <ul className="space-y-2">
              {agents.data.items.map((a) => (
                <li key={a.id} className="flex flex-wrap items-center gap-3 rounded-lg border p-3 text-sm">
                  <span className="font-medium">{a.name}</span>
                  <Badge variant={STATUS_VARIANT[a.status]}>{a.status}</Badge>
                  <span className="text-muted-foreground">
                    {a.host ?? "unknown host"} · v{a.version ?? "?"} · tools {a.tools.join(", ") || "none"} ·
                    last heartbeat {when(a.last_heartbeat_at)}
                  </span>
                  <ContractCheckSummary reports={a.contract_check} />
                </li>
              ))}
            </ul>
          )}
        </CardContent>
      </Card>
    </div>
  );
}
