"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import { useEffect, useState } from "react";

import { ConfigViewer } from "@/components/ConfigViewer";
import { PageHeader } from "@/components/DashboardLayout";
import { DocumentsPanel } from "@/components/DocumentsPanel";
import { FormField } from "@/components/form-field";
import { ProfilePanel } from "@/components/ProfilePanel";
import { SchedulesCard } from "@/components/SchedulesCard";
import { EmptyState, ErrorState, InlineError, LoadingState } from "@/components/states";
import { ToolSettingsForm } from "@/components/ToolSettingsForm";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { core, unwrap, type Schemas } from "@/lib/api/client";
import { ApiError } from "@/lib/api/errors";
import { keys, useAgent, useIndustries, useOrg, useRoleTemplates, useTools } from "@/lib/api/queries";
import { fieldsOf, initialValues, toConfig, type FormValues, type JsonSchema } from "@/lib/schema-form";
import { useUrlParam } from "@/lib/url-state";

// Loaded when their tab opens, so the agent page's first load stays small.
const LocalAgentsPanel = dynamic(
  () => import("@/components/LocalAgentsPanel").then((m) => m.LocalAgentsPanel),
  { loading: () => <LoadingState label="Loading" /> },
);
const DataContractCard = dynamic(
  () => import("@/components/DataContractCard").then((m) => m.DataContractCard),
  { loading: () => <LoadingState label="Loading" /> },
);
const MemoryPanel = dynamic(() => import("@/components/MemoryPanel").then((m) => m.MemoryPanel), {
  loading: () => <LoadingState label="Loading" />,
});
const ApprovalSettings = dynamic(
  () => import("@/components/AgentTask").then((m) => m.ApprovalSettings),
  { loading: () => <LoadingState label="Loading" /> },
);
const TaskList = dynamic(() => import("@/components/TaskList").then((m) => m.TaskList), {
  loading: () => <LoadingState label="Loading" />,
});

function usePatchAgent(agentId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["AgentPatch"]) =>
      unwrap(core.PATCH("/agents/{agent_id}", { params: { path: { agent_id: agentId } }, body })),
    onSuccess: (agent) => {
      queryClient.setQueryData(keys.agent(agentId), agent);
      return Promise.all([
        queryClient.invalidateQueries({ queryKey: keys.agents(agent.org_id) }),
        queryClient.invalidateQueries({ queryKey: keys.config(agentId) }),
        queryClient.invalidateQueries({ queryKey: keys.schedules(agentId) }),
      ]);
    },
  });
}

function Overview({ agent }: { agent: Schemas["AgentOut"] }) {
  const patch = usePatchAgent(agent.id);
  const [name, setName] = useState(agent.name);
  useEffect(() => setName(agent.name), [agent.name]);
  const industries = useIndustries();
  const industry = industries.data?.find((i) => i.id === agent.industry_id);
  const roles = useRoleTemplates(industry?.key ?? null);
  const role = roles.data?.find((r) => r.id === agent.role_template_id);
  const fields = patch.error instanceof ApiError ? patch.error.fields : {};
  const active = agent.status === "ACTIVE";
  return (
    <Card>
      <CardHeader>
        <CardTitle>General</CardTitle>
      </CardHeader>
      <CardContent className="space-y-6">
        <dl className="grid gap-4 text-sm sm:grid-cols-4">
          <div>
            <dt className="text-muted-foreground">Status</dt>
            <dd>
              <Badge variant={active ? "success" : "secondary"}>{agent.status}</Badge>
            </dd>
          </div>
          <div>
            <dt className="text-muted-foreground">Industry</dt>
            <dd>{industry?.name ?? "—"}</dd>
          </div>
          <div>
            <dt className="text-muted-foreground">Role</dt>
            <dd>{role?.name ?? "—"}</dd>
          </div>
          <div>
            <dt className="text-muted-foreground">Created</dt>
            <dd>{new Date(agent.created_at).toLocaleString()}</dd>
          </div>
        </dl>
        <form
          className="flex flex-wrap items-end gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            patch.mutate({ name });
          }}
        >
          <div className="min-w-60 flex-1">
            <FormField label="Name" error={fields.name}>
              {(p) => <Input {...p} value={name} onChange={(e) => setName(e.target.value)} />}
            </FormField>
          </div>
          <Button type="submit" variant="outline" disabled={patch.isPending || name === agent.name}>
            Rename
          </Button>
          <Button
            type="button"
            variant={active ? "outline" : "default"}
            disabled={patch.isPending}
            onClick={() => patch.mutate({ status: active ? "DISABLED" : "ACTIVE" })}
          >
            {active ? "Disable agent" : "Enable agent"}
          </Button>
        </form>
        {Object.keys(fields).length === 0 ? <InlineError error={patch.error} /> : null}
      </CardContent>
    </Card>
  );
}

function ToolsPanel({ agent }: { agent: Schemas["AgentOut"] }) {
  const tools = useTools();
  const patch = usePatchAgent(agent.id);
  const [values, setValues] = useState<Record<string, FormValues>>({});
  const [errors, setErrors] = useState<Record<string, Record<string, string>>>({});
  const [saved, setSaved] = useState(false);
  if (tools.isPending) return <LoadingState label="Loading tools" />;
  if (tools.isError) return <ErrorState error={tools.error} />;
  if (agent.tools.length === 0) {
    return <EmptyState title="This agent has no tools">It can only answer from its documents.</EmptyState>;
  }
  const schemaOf = (toolId: string) =>
    (tools.data.find((t) => t.id === toolId)?.config_schema ?? {}) as JsonSchema;
  const valuesOf = (t: Schemas["AgentToolOut"]) =>
    values[t.tool_id] ?? initialValues(schemaOf(t.tool_id), t.config);

  function save() {
    const nextErrors: Record<string, Record<string, string>> = {};
    const body = agent.tools.map((t) => {
      const result = toConfig(schemaOf(t.tool_id), valuesOf(t));
      if (Object.keys(result.errors).length) nextErrors[t.tool_id] = result.errors;
      return { tool_id: t.tool_id, config: result.config };
    });
    setErrors(nextErrors);
    setSaved(false);
    if (Object.keys(nextErrors).length === 0) {
      patch.mutate({ tools: body }, { onSuccess: () => setSaved(true) });
    }
  }

  return (
    <div className="space-y-4">
      {agent.tools.map((t) => (
        <Card key={t.tool_id}>
          <CardHeader>
            <CardTitle>{t.name}</CardTitle>
          </CardHeader>
          <CardContent>
            <ToolSettingsForm
              idPrefix={`agent-tool-${t.key}`}
              schema={schemaOf(t.tool_id)}
              values={valuesOf(t)}
              errors={errors[t.tool_id] ?? {}}
              onChange={(v) => {
                setSaved(false);
                setValues({ ...values, [t.tool_id]: v });
              }}
            />
          </CardContent>
        </Card>
      ))}
      <div className="flex items-center gap-3">
        {agent.tools.some((t) => fieldsOf(schemaOf(t.tool_id)).length > 0) ? (
          <Button onClick={save} disabled={patch.isPending}>
            {patch.isPending ? "Saving…" : "Save tool settings"}
          </Button>
        ) : null}
        {saved ? (
          <span role="status" className="text-sm text-emerald-700">
            Saved.
          </span>
        ) : null}
        <InlineError error={patch.error} />
      </div>
    </div>
  );
}


export function AgentPage({ agentId }: { agentId: string }) {
  const agent = useAgent(agentId);
  const org = useOrg(agent.data?.org_id ?? "");
  const [tabParam, setTab] = useUrlParam("tab");
  // ?tab= names a tab by its value; not checked against a list, so a tab added below works
  // without another edit here.
  const tab = tabParam ?? "overview";
  if (agent.isPending) return <LoadingState label="Loading agent" />;
  if (agent.isError) return <ErrorState error={agent.error} onRetry={() => agent.refetch()} />;
  const a = agent.data;
  return (
    <>
      <PageHeader
        crumbs={[
          { href: "/dashboard", label: "Dashboard" },
          { href: `/orgs/${a.org_id}`, label: org.data?.name ?? "Organization" },
          { href: `/orgs/${a.org_id}/agents`, label: "Agents" },
        ]}
        title={a.name}
        description={`${a.tools.length} tool(s) · ${a.system_prompt ? "profile generated" : "no profile yet"}`}
      />
      <Tabs value={tab} onValueChange={(value) => setTab(value === "overview" ? null : value)}>
        <TabsList aria-label="Agent sections">
          <TabsTrigger value="overview">Overview</TabsTrigger>
          <TabsTrigger value="tools">Tools</TabsTrigger>
          <TabsTrigger value="documents">Documents</TabsTrigger>
          <TabsTrigger value="memory">Memory</TabsTrigger>
          <TabsTrigger value="profile">Profile</TabsTrigger>
          <TabsTrigger value="config">Config</TabsTrigger>
          <TabsTrigger value="local-agents">Local agents</TabsTrigger>
          <TabsTrigger value="tasks">Tasks</TabsTrigger>
        </TabsList>
        <TabsContent value="overview" className="space-y-6">
          <Overview agent={a} />
          <SchedulesCard agent={a} />
        </TabsContent>
        <TabsContent value="tools" className="space-y-6">
          <ToolsPanel agent={a} />
          <ApprovalSettings agent={a} />
        </TabsContent>
        <TabsContent value="documents">
          <DocumentsPanel agentId={a.id} />
        </TabsContent>
        <TabsContent value="memory">
          <MemoryPanel orgId={a.org_id} agentId={a.id} role={org.data?.my_role ?? "MEMBER"} />
        </TabsContent>
        <TabsContent value="profile">
          <ProfilePanel agent={a} />
        </TabsContent>
        <TabsContent value="config">
          <ConfigViewer agentId={a.id} />
        </TabsContent>
        <TabsContent value="local-agents" className="space-y-6">
          <LocalAgentsPanel agentId={a.id} />
          <DataContractCard />
        </TabsContent>
        <TabsContent value="tasks">
          <TaskList agent={a} />
        </TabsContent>
      </Tabs>
    </>
  );
}
