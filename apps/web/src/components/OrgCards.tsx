"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";

import { PageHeader } from "@/components/DashboardLayout";
import { FormField } from "@/components/form-field";
import { EmptyState, ErrorState, InlineError, LoadingState } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { core, unwrap, type Schemas } from "@/lib/api/client";
import { ApiError } from "@/lib/api/errors";
import { keys, useOrgStats, useOrgs } from "@/lib/api/queries";
import { useCreateGuard } from "@/lib/create-guard";

export function Stat({ label, value }: { label: string; value: number | string | undefined }) {
  return (
    <div>
      <dt className="text-xs text-muted-foreground">{label}</dt>
      <dd className="text-lg font-semibold tabular-nums">{value ?? "…"}</dd>
    </div>
  );
}

function OrgCard({ org }: { org: Schemas["OrgOut"] }) {
  const stats = useOrgStats(org.id);
  return (
    <Card>
      <CardHeader>
        <div className="flex items-center justify-between gap-2">
          <CardTitle>
            <Link href={`/orgs/${org.id}`} className="hover:underline">
              {org.name}
            </Link>
          </CardTitle>
          <Badge variant="secondary">{org.my_role}</Badge>
        </div>
      </CardHeader>
      <CardContent>
        {stats.isError ? (
          <InlineError error={stats.error} />
        ) : (
          <dl className="grid grid-cols-4 gap-2">
            <Stat label="Agents" value={stats.data?.agents} />
            <Stat label="Documents" value={stats.data?.documents} />
            <Stat label="Tasks today" value={stats.data?.tasks_today} />
            <Stat label="Failed tasks" value={stats.data?.tasks_failed_today} />
          </dl>
        )}
      </CardContent>
    </Card>
  );
}

function CreateOrgForm() {
  const queryClient = useQueryClient();
  const router = useRouter();
  const [name, setName] = useState("");
  const guard = useCreateGuard();
  const create = useMutation({
    mutationFn: (orgName: string) =>
      unwrap(
        core.POST("/orgs", {
          body: { name: orgName },
          params: { header: { "Idempotency-Key": guard.keyFor({ name: orgName }) } },
        }),
      ),
    onSuccess: async (org) => {
      guard.succeeded();
      await queryClient.invalidateQueries({ queryKey: keys.orgs });
      await queryClient.invalidateQueries({ queryKey: keys.me });
      router.push(`/orgs/${org.id}`);
    },
  });
  const fieldError = create.error instanceof ApiError ? create.error.fields.name : undefined;
  return (
    <Card>
      <CardHeader>
        <CardTitle>New organization</CardTitle>
        <CardDescription>Your company or team; agents and documents belong to it.</CardDescription>
      </CardHeader>
      <CardContent>
        <form
          className="flex flex-wrap items-end gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            guard.once(() => create.mutateAsync(name));
          }}
        >
          <div className="min-w-60 flex-1">
            <FormField label="Organization name" error={fieldError}>
              {(p) => (
                <Input {...p} value={name} onChange={(e) => setName(e.target.value)} required />
              )}
            </FormField>
          </div>
          <Button type="submit" disabled={create.isPending || !name.trim()}>
            {create.isPending ? "Creating…" : "Create organization"}
          </Button>
        </form>
        {!fieldError ? <InlineError error={create.error} /> : null}
      </CardContent>
    </Card>
  );
}

function MyInvitations() {
  const queryClient = useQueryClient();
  const invitations = useQuery({
    queryKey: ["me", "invitations"],
    queryFn: () => unwrap(core.GET("/me/invitations")),
  });
  const guard = useCreateGuard();
  const answer = useMutation({
    mutationFn: ({ id, action }: { id: string; action: "accept" | "decline" }) =>
      action === "accept"
        ? unwrap(
            core.POST("/me/invitations/{invitation_id}/accept", {
              params: {
                path: { invitation_id: id },
                header: { "Idempotency-Key": guard.keyFor({ accept: id }) },
              },
            }),
          )
        : unwrap(core.POST("/me/invitations/{invitation_id}/decline", { params: { path: { invitation_id: id } } })),
    onSuccess: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: ["me", "invitations"] }),
        queryClient.invalidateQueries({ queryKey: keys.orgs }),
      ]),
  });
  if (!invitations.data || invitations.data.length === 0) return null;
  return (
    <section aria-labelledby="invitations-heading" className="space-y-3">
      <h2 id="invitations-heading" className="text-lg font-semibold">
        Invitations
      </h2>
      {invitations.data.map((inv) => (
        <Card key={inv.id}>
          <CardContent className="flex flex-wrap items-center justify-between gap-3 pt-6">
            <div>
              <div className="font-medium">{inv.org_name}</div>
              <div className="text-sm text-muted-foreground">
                as {inv.role}
                {inv.invited_by_email ? `, invited by ${inv.invited_by_email}` : ""}
              </div>
            </div>
            <div className="flex gap-2">
              <Button
                size="sm"
                disabled={answer.isPending}
                onClick={() => guard.once(() => answer.mutateAsync({ id: inv.id, action: "accept" }))}
              >
                Accept
              </Button>
              <Button
                size="sm"
                variant="outline"
                disabled={answer.isPending}
                onClick={() => guard.once(() => answer.mutateAsync({ id: inv.id, action: "decline" }))}
              >
                Decline
              </Button>
            </div>
          </CardContent>
        </Card>
      ))}
      <InlineError error={answer.error} />
    </section>
  );
}

export function Dashboard() {
  const orgs = useOrgs();
  return (
    <>
      <PageHeader title="Dashboard" description="Your organizations at a glance." />
      <MyInvitations />
      <section aria-labelledby="orgs-heading" className="space-y-4">
        <h2 id="orgs-heading" className="sr-only">
          Organizations
        </h2>
        {orgs.isPending ? (
          <LoadingState label="Loading organizations" />
        ) : orgs.isError ? (
          <ErrorState error={orgs.error} onRetry={() => orgs.refetch()} />
        ) : orgs.data.length === 0 ? (
          <EmptyState title="No organization yet">
            Create one below to start building agents.
          </EmptyState>
        ) : (
          <div className="grid gap-4 md:grid-cols-2">
            {orgs.data.map((org) => (
              <OrgCard key={org.id} org={org} />
            ))}
          </div>
        )}
        <CreateOrgForm />
      </section>
    </>
  );
}
