"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import Link from "next/link";
import { useState } from "react";

import { AgentList } from "@/components/AgentList";
import { PageHeader } from "@/components/DashboardLayout";
import { FormField } from "@/components/form-field";
import { Stat } from "@/components/OrgCards";
import { OrgNav } from "@/components/OrgNav";
import { OrgSettingsCard } from "@/components/OrgSettingsCard";
import { EmptyState, ErrorState, InlineError, LoadingState } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, NativeSelect } from "@/components/ui/input";
import { core, unwrap, type Schemas } from "@/lib/api/client";
import { ApiError } from "@/lib/api/errors";
import { keys, useMe, useMembers, useOrg, useOrgStats } from "@/lib/api/queries";
import { useCreateGuard } from "@/lib/create-guard";

const MemoryPanel = dynamic(() => import("@/components/MemoryPanel").then((m) => m.MemoryPanel), {
  loading: () => <LoadingState label="Loading" />,
});

type Role = Schemas["InvitationIn"]["role"];
const ROLES: Role[] = ["OWNER", "ADMIN", "MEMBER"];

export function OrgFrame({
  orgId,
  title,
  children,
  actions,
}: {
  orgId: string;
  title?: string;
  children: (org: Schemas["OrgOut"]) => React.ReactNode;
  actions?: (org: Schemas["OrgOut"]) => React.ReactNode;
}) {
  const org = useOrg(orgId);
  if (org.isPending) return <LoadingState label="Loading organization" />;
  if (org.isError) return <ErrorState error={org.error} onRetry={() => org.refetch()} />;
  return (
    <>
      <PageHeader
        crumbs={[{ href: "/dashboard", label: "Dashboard" }]}
        title={title ? `${org.data.name}: ${title}` : org.data.name}
        description={`Your role: ${org.data.my_role}`}
        actions={actions?.(org.data)}
      />
      <OrgNav orgId={orgId} />
      {children(org.data)}
    </>
  );
}

const canWrite = (org: Schemas["OrgOut"]) => org.my_role === "OWNER" || org.my_role === "ADMIN";

function NewAgentButton({ org }: { org: Schemas["OrgOut"] }) {
  if (!canWrite(org)) return null;
  return (
    <Button asChild>
      <Link href={`/orgs/${org.id}/agents/new`}>Create agent</Link>
    </Button>
  );
}

export function OrgOverview({ orgId }: { orgId: string }) {
  const stats = useOrgStats(orgId);
  return (
    <OrgFrame orgId={orgId} actions={(org) => <NewAgentButton org={org} />}>
      {(org) => (
        <div className="space-y-6">
          <Card>
            <CardHeader>
              <CardTitle>At a glance</CardTitle>
            </CardHeader>
            <CardContent>
              {stats.isError ? (
                <InlineError error={stats.error} />
              ) : (
                <dl className="grid grid-cols-2 gap-4 sm:grid-cols-5">
                  <Stat label="Agents" value={stats.data?.agents} />
                  <Stat label="Documents" value={stats.data?.documents} />
                  <Stat label="Failed documents" value={stats.data?.documents_failed} />
                  <Stat label="Tasks today" value={stats.data?.tasks_today} />
                  <Stat label="Failed tasks today" value={stats.data?.tasks_failed_today} />
                </dl>
              )}
            </CardContent>
          </Card>
          <section aria-labelledby="agents-heading" className="space-y-3">
            <h2 id="agents-heading" className="text-lg font-semibold">
              Agents
            </h2>
            <AgentList orgId={orgId} canCreate={canWrite(org)} />
          </section>
          <OrgSettingsCard org={org} />
        </div>
      )}
    </OrgFrame>
  );
}

export function OrgAgents({ orgId }: { orgId: string }) {
  return (
    <OrgFrame orgId={orgId} title="Agents" actions={(org) => <NewAgentButton org={org} />}>
      {(org) => <AgentList orgId={orgId} canCreate={canWrite(org)} />}
    </OrgFrame>
  );
}

function InviteForm({ orgId, myRole }: { orgId: string; myRole: string }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("MEMBER");
  const [sent, setSent] = useState<string | null>(null);
  const guard = useCreateGuard();
  const invite = useMutation({
    mutationFn: () =>
      unwrap(
        core.POST("/orgs/{org_id}/invitations", {
          params: { path: { org_id: orgId }, header: { "Idempotency-Key": guard.keyFor({ email, role }) } },
          body: { email, role },
        }),
      ),
    onSuccess: (invitation) => {
      guard.succeeded();
      setSent(invitation.email);
      setEmail("");
    },
  });
  const fields = invite.error instanceof ApiError ? invite.error.fields : {};
  return (
    <Card>
      <CardHeader>
        <CardTitle>Invite someone</CardTitle>
        <CardDescription>
          They join once they accept the invitation from their own account (on their dashboard).
        </CardDescription>
      </CardHeader>
      <CardContent>
        <form
          className="flex flex-wrap items-end gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            setSent(null);
            guard.once(() => invite.mutateAsync());
          }}
        >
          <div className="min-w-60 flex-1">
            <FormField label="Email" error={fields.email}>
              {(p) => (
                <Input
                  {...p}
                  type="email"
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                  required
                />
              )}
            </FormField>
          </div>
          <div className="w-40">
            <FormField label="Role" error={fields.role}>
              {(p) => (
                <NativeSelect {...p} value={role} onChange={(e) => setRole(e.target.value as Role)}>
                  {ROLES.filter((r) => r !== "OWNER" || myRole === "OWNER").map((r) => (
                    <option key={r}>{r}</option>
                  ))}
                </NativeSelect>
              )}
            </FormField>
          </div>
          <Button type="submit" disabled={invite.isPending || !email}>
            {invite.isPending ? "Inviting…" : "Invite"}
          </Button>
        </form>
        {sent ? <p className="mt-3 text-sm text-muted-foreground">Invitation sent to {sent}.</p> : null}
        {Object.keys(fields).length === 0 ? <InlineError error={invite.error} /> : null}
      </CardContent>
    </Card>
  );
}

function MemberRow({
  orgId,
  member,
  manageable,
}: {
  orgId: string;
  member: Schemas["MemberOut"];
  manageable: boolean;
}) {
  const queryClient = useQueryClient();
  const path = { org_id: orgId, member_user_id: member.user_id };
  const done = () => queryClient.invalidateQueries({ queryKey: keys.members(orgId) });
  const change = useMutation({
    mutationFn: (role: Role) =>
      unwrap(core.PATCH("/orgs/{org_id}/members/{member_user_id}", { params: { path }, body: { role } })),
    onSuccess: done,
  });
  const remove = useMutation({
    mutationFn: () =>
      unwrap(core.DELETE("/orgs/{org_id}/members/{member_user_id}", { params: { path } })),
    onSuccess: done,
  });
  const error = change.error ?? remove.error;
  return (
    <tr className="border-t align-top">
      <td className="px-4 py-2">
        <div className="font-medium">{member.name ?? member.email}</div>
        <div className="text-muted-foreground">{member.email}</div>
      </td>
      <td className="px-4 py-2">
        {manageable ? (
          <NativeSelect
            aria-label={`Role of ${member.email}`}
            className="w-32"
            value={member.role}
            disabled={change.isPending}
            onChange={(e) => change.mutate(e.target.value as Role)}
          >
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </NativeSelect>
        ) : (
          member.role
        )}
        <InlineError error={error} />
      </td>
      <td className="px-4 py-2 text-muted-foreground">
        {new Date(member.joined_at).toLocaleDateString()}
      </td>
      <td className="px-4 py-2 text-right">
        {manageable ? (
          <Button
            variant="outline"
            size="sm"
            aria-label={`Remove ${member.email}`}
            disabled={remove.isPending}
            onClick={() => remove.mutate()}
          >
            Remove
          </Button>
        ) : null}
      </td>
    </tr>
  );
}

export function OrgMembers({ orgId }: { orgId: string }) {
  const members = useMembers(orgId);
  const me = useMe();
  return (
    <OrgFrame orgId={orgId} title="Members">
      {(org) => (
        <div className="space-y-6">
          {members.isPending ? (
            <LoadingState label="Loading members" />
          ) : members.isError ? (
            <ErrorState error={members.error} onRetry={() => members.refetch()} />
          ) : members.data.length === 0 ? (
            <EmptyState title="No members" />
          ) : (
            <div className="overflow-x-auto rounded-lg border bg-background">
              <table className="w-full text-sm">
                <caption className="sr-only">Members of {org.name}</caption>
                <thead className="bg-muted/50 text-left text-muted-foreground">
                  <tr>
                    <th scope="col" className="px-4 py-2 font-medium">Member</th>
                    <th scope="col" className="px-4 py-2 font-medium">Role</th>
                    <th scope="col" className="px-4 py-2 font-medium">Joined</th>
                    <th scope="col" className="px-4 py-2"><span className="sr-only">Actions</span></th>
                  </tr>
                </thead>
                <tbody>
                  {members.data.map((m) => (
                    <MemberRow
                      key={m.user_id}
                      orgId={orgId}
                      member={m}
                      manageable={canWrite(org) && m.user_id !== me.data?.id}
                    />
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {canWrite(org) ? <InviteForm orgId={orgId} myRole={org.my_role} /> : null}
        </div>
      )}
    </OrgFrame>
  );
}


/** The organization's memory: facts every agent of it recalls (OWNER/ADMIN change them). */
export function OrgMemory({ orgId }: { orgId: string }) {
  return (
    <OrgFrame orgId={orgId} title="Memory">
      {(org) => <MemoryPanel orgId={org.id} role={org.my_role} />}
    </OrgFrame>
  );
}
