"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { ProfileSections } from "@/components/ProfileSections";
import { EmptyState, ErrorState, InlineError, LoadingState } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { core, unwrap, type Schemas } from "@/lib/api/client";
import { keys, useGeneration, useProfileVersion, useProfileVersions } from "@/lib/api/queries";
import { useCreateGuard } from "@/lib/create-guard";

function GenerateProfile({ agent }: { agent: Schemas["AgentOut"] }) {
  const queryClient = useQueryClient();
  const [generationId, setGenerationId] = useState<string | null>(null);
  const generation = useGeneration(agent.id, generationId);
  const guard = useCreateGuard();
  const start = useMutation({
    mutationFn: () =>
      unwrap(
        core.POST("/agents/{agent_id}/generate-profile", {
          params: {
            path: { agent_id: agent.id },
            header: { "Idempotency-Key": guard.keyFor({ generate: agent.id }) },
          },
        }),
      ),
    onSuccess: (g) => {
      guard.succeeded();
      setGenerationId(g.id);
    },
  });
  const status = generation.data?.status;
  useEffect(() => {
    if (status === "SUCCEEDED") {
      void queryClient.invalidateQueries({ queryKey: keys.agent(agent.id) });
      void queryClient.invalidateQueries({ queryKey: keys.profileVersions(agent.id) });
      void queryClient.invalidateQueries({ queryKey: keys.config(agent.id) });
    }
  }, [status, agent.id, queryClient]);
  const running = start.isPending || status === "PENDING" || status === "RUNNING";
  return (
    <div className="flex flex-wrap items-center gap-3">
      <Button onClick={() => guard.once(() => start.mutateAsync())} disabled={running}>
        {running ? "Generating…" : "Generate Profile"}
      </Button>
      {status ? (
        <span role="status" aria-live="polite" className="text-sm">
          Generation:{" "}
          <Badge
            variant={
              status === "SUCCEEDED" ? "success" : status === "FAILED" ? "destructive" : "warning"
            }
          >
            {status}
          </Badge>
        </span>
      ) : null}
      <InlineError error={start.error ?? generation.error ?? generation.data?.error} />
    </div>
  );
}

function VersionDetail({ agentId, version }: { agentId: string; version: number }) {
  const detail = useProfileVersion(agentId, version);
  if (detail.isPending) return <LoadingState label="Loading the version" rows={2} />;
  if (detail.isError) return <ErrorState error={detail.error} />;
  return (
    <div className="min-w-0 space-y-3">
      <h3 className="text-sm font-semibold">System prompt of version {version}</h3>
      <pre className="max-h-64 overflow-auto whitespace-pre-wrap break-words rounded-md bg-muted p-3 text-xs">
        {detail.data.system_prompt}
      </pre>
      <h3 className="text-sm font-semibold">Profile of version {version}</h3>
      <ProfileSections profile={detail.data.profile} />
    </div>
  );
}

function Versions({ agentId }: { agentId: string }) {
  const queryClient = useQueryClient();
  const versions = useProfileVersions(agentId);
  const [selected, setSelected] = useState<number | null>(null);
  const restore = useMutation({
    mutationFn: (version: number) =>
      unwrap(
        core.POST("/agents/{agent_id}/profile-versions/{version}/restore", {
          params: { path: { agent_id: agentId, version } },
        }),
      ),
    onSuccess: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: keys.agent(agentId) }),
        queryClient.invalidateQueries({ queryKey: keys.profileVersions(agentId) }),
        queryClient.invalidateQueries({ queryKey: keys.config(agentId) }),
      ]),
  });
  if (versions.isPending) return <LoadingState label="Loading versions" rows={2} />;
  if (versions.isError) return <ErrorState error={versions.error} />;
  if (versions.data.length === 0) {
    return <EmptyState title="No versions yet">Generate the profile to create version 1.</EmptyState>;
  }
  const latest = versions.data.reduce((a, b) => (a.version > b.version ? a : b));
  const shown = selected ?? latest.version;
  return (
    // minmax(0, 1fr): a long line in the detail wraps instead of widening the grid (and the
    // page) past its card.
    <div className="grid gap-6 lg:grid-cols-[18rem_minmax(0,1fr)]">
      <ol className="min-w-0 space-y-2" aria-label="Profile versions">
        {[...versions.data]
          .sort((a, b) => b.version - a.version)
          .map((v) => (
            <li key={v.id} className="rounded-lg border p-3 text-sm">
              <div className="flex items-center justify-between gap-2">
                <button
                  type="button"
                  className="font-medium hover:underline"
                  aria-pressed={shown === v.version}
                  onClick={() => setSelected(v.version)}
                >
                  Version {v.version}
                </button>
                {v.version === latest.version ? <Badge>latest</Badge> : null}
              </div>
              <p className="text-xs text-muted-foreground">
                {new Date(v.created_at).toLocaleString()} ·{" "}
                {v.produced_without_llm ? "builtin (no model)" : `${v.provider}/${v.model}`}
                {v.restored_from ? ` · restored from v${v.restored_from}` : ""}
              </p>
              {v.version !== latest.version ? (
                <Button
                  variant="outline"
                  size="sm"
                  className="mt-2"
                  disabled={restore.isPending}
                  onClick={() => restore.mutate(v.version)}
                >
                  Restore
                </Button>
              ) : null}
            </li>
          ))}
        <InlineError error={restore.error} />
      </ol>
      <VersionDetail agentId={agentId} version={shown} />
    </div>
  );
}

export function ProfilePanel({ agent }: { agent: Schemas["AgentOut"] }) {
  return (
    <div className="space-y-6">
      <Card>
        <CardHeader>
          <CardTitle>Profile</CardTitle>
          <CardDescription>
            Built from the agent&apos;s role and its READY documents. Read-only here; generate
            again after adding documents.
          </CardDescription>
        </CardHeader>
        <CardContent className="space-y-4">
          <GenerateProfile agent={agent} />
          <div>
            <h3 className="mb-2 text-sm font-semibold">Current system prompt</h3>
            {agent.system_prompt ? (
              <pre
                className="max-h-80 overflow-auto whitespace-pre-wrap break-words rounded-md bg-muted p-3 text-xs"
                data-testid="system-prompt"
              >
                {agent.system_prompt}
              </pre>
            ) : (
              <EmptyState title="No system prompt yet" />
            )}
          </div>
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>Versions</CardTitle>
        </CardHeader>
        <CardContent>
          <Versions agentId={agent.id} />
        </CardContent>
      </Card>
    </div>
  );
}
