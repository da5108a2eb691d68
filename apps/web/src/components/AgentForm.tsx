"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useState } from "react";

import { PageHeader } from "@/components/DashboardLayout";
import { FormField } from "@/components/form-field";
import { ErrorState, InlineError, LoadingState } from "@/components/states";
import { ToolSettingsForm } from "@/components/ToolSettingsForm";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { core, unwrap, type Schemas } from "@/lib/api/client";
import { ApiError } from "@/lib/api/errors";
import { keys, useIndustries, useOrg, useRoleTemplates, useTools } from "@/lib/api/queries";
import { useCreateGuard } from "@/lib/create-guard";
import { initialValues, toConfig, type FormValues, type JsonSchema } from "@/lib/schema-form";
import { cn } from "@/lib/utils";

function Step({ n, title, children }: { n: number; title: string; children: React.ReactNode }) {
  return (
    <Card>
      <CardHeader>
        <CardTitle>
          <span className="mr-2 inline-flex h-6 w-6 items-center justify-center rounded-full bg-primary text-xs text-primary-foreground">
            {n}
          </span>
          {title}
        </CardTitle>
      </CardHeader>
      <CardContent>{children}</CardContent>
    </Card>
  );
}

function ChoiceGrid<T extends { id: string; name: string; description: string | null }>({
  legend,
  items,
  selected,
  onSelect,
}: {
  legend: string;
  items: T[];
  selected: string | null;
  onSelect: (item: T) => void;
}) {
  return (
    <fieldset>
      <legend className="sr-only">{legend}</legend>
      <div className="grid gap-2 sm:grid-cols-2 lg:grid-cols-3">
        {items.map((item) => (
          <label
            key={item.id}
            className={cn(
              "cursor-pointer rounded-lg border p-3 text-sm hover:bg-accent has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-ring",
              selected === item.id && "border-primary bg-accent",
            )}
          >
            <input
              type="radio"
              name={legend}
              className="sr-only"
              checked={selected === item.id}
              onChange={() => onSelect(item)}
            />
            <span className="block font-medium">{item.name}</span>
            {item.description ? (
              <span className="mt-1 block text-xs text-muted-foreground">{item.description}</span>
            ) : null}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

export function AgentForm({ orgId }: { orgId: string }) {
  const router = useRouter();
  const queryClient = useQueryClient();
  const org = useOrg(orgId);
  const industries = useIndustries();
  const tools = useTools();
  const [industry, setIndustry] = useState<Schemas["IndustryOut"] | null>(null);
  const roles = useRoleTemplates(industry?.key ?? null);
  const [role, setRole] = useState<Schemas["RoleTemplateOut"] | null>(null);
  const [name, setName] = useState("");
  const [selectedTools, setSelectedTools] = useState<Set<string>>(new Set());
  const [settings, setSettings] = useState<Record<string, FormValues>>({});
  const [settingErrors, setSettingErrors] = useState<Record<string, Record<string, string>>>({});

  const toolsByKey = useMemo(
    () => new Map((tools.data ?? []).map((t) => [t.key, t] as const)),
    [tools.data],
  );

  // A role brings its default tools (those available today), ready to adjust.
  useEffect(() => {
    if (!role) return;
    const ids = new Set<string>();
    for (const key of role.default_tools) {
      const tool = toolsByKey.get(String(key));
      if (tool?.available) ids.add(tool.id);
    }
    setSelectedTools(ids);
    if (!name) setName(role.name);
  }, [role, toolsByKey]);

  function settingsOf(tool: Schemas["ToolOut"]): FormValues {
    return (
      settings[tool.id] ?? initialValues(tool.config_schema as JsonSchema, tool.default_config)
    );
  }

  const guard = useCreateGuard();
  const create = useMutation({
    mutationFn: async () => {
      if (!industry || !role) throw new Error("choose an industry and a role first");
      const chosen = (tools.data ?? []).filter((t) => selectedTools.has(t.id));
      const errors: Record<string, Record<string, string>> = {};
      const toolConfigs = chosen.map((tool) => {
        const result = toConfig(tool.config_schema as JsonSchema, settingsOf(tool));
        if (Object.keys(result.errors).length) errors[tool.id] = result.errors;
        return { tool_id: tool.id, config: result.config };
      });
      setSettingErrors(errors);
      if (Object.keys(errors).length) throw new Error("fix the highlighted tool settings");
      const body = { industry_id: industry.id, role_template_id: role.id, name, tool_ids: [] };
      const agent = await unwrap(
        core.POST("/orgs/{org_id}/agents", {
          params: { path: { org_id: orgId }, header: { "Idempotency-Key": guard.keyFor(body) } },
          body,
        }),
      );
      if (toolConfigs.length) {
        await unwrap(
          core.PATCH("/agents/{agent_id}", {
            params: { path: { agent_id: agent.id } },
            body: { tools: toolConfigs },
          }),
        );
      }
      return agent;
    },
    onSuccess: async (agent) => {
      guard.succeeded();
      await queryClient.invalidateQueries({ queryKey: keys.agents(orgId) });
      router.push(`/agents/${agent.id}`);
    },
  });

  if (industries.isPending || tools.isPending || org.isPending) {
    return <LoadingState label="Loading the catalog" />;
  }
  if (industries.isError) return <ErrorState error={industries.error} />;
  if (tools.isError) return <ErrorState error={tools.error} />;
  if (org.isError) return <ErrorState error={org.error} />;

  const nameError = create.error instanceof ApiError ? create.error.fields.name : undefined;
  return (
    <>
      <PageHeader
        crumbs={[
          { href: "/dashboard", label: "Dashboard" },
          { href: `/orgs/${orgId}`, label: org.data.name },
          { href: `/orgs/${orgId}/agents`, label: "Agents" },
        ]}
        title="Create an agent"
        description="Pick the industry and the role, name it, and choose what it may use."
      />
      <form
        className="space-y-4"
        onSubmit={(e) => {
          e.preventDefault();
          guard.once(() => create.mutateAsync());
        }}
      >
        <Step n={1} title="Industry">
          <ChoiceGrid
            legend="Industry"
            items={industries.data}
            selected={industry?.id ?? null}
            onSelect={(i) => {
              setIndustry(i);
              setRole(null);
            }}
          />
        </Step>
        {industry ? (
          <Step n={2} title="Role template">
            {roles.isPending ? (
              <LoadingState label="Loading roles" rows={2} />
            ) : roles.isError ? (
              <ErrorState error={roles.error} />
            ) : (
              <ChoiceGrid
                legend="Role template"
                items={roles.data}
                selected={role?.id ?? null}
                onSelect={setRole}
              />
            )}
          </Step>
        ) : null}
        {role ? (
          <>
            <Step n={3} title="Name">
              <FormField label="Agent name" error={nameError}>
                {(p) => (
                  <Input {...p} value={name} onChange={(e) => setName(e.target.value)} required />
                )}
              </FormField>
            </Step>
            <Step n={4} title="Tools">
              <div className="space-y-4">
                {tools.data.map((tool) => {
                  const checked = selectedTools.has(tool.id);
                  const id = `tool-${tool.key}`;
                  return (
                    <div key={tool.id} className="rounded-lg border p-4">
                      <div className="flex items-start gap-3">
                        <input
                          id={id}
                          type="checkbox"
                          className="mt-1 h-4 w-4"
                          checked={checked}
                          disabled={!tool.available}
                          onChange={(e) => {
                            const next = new Set(selectedTools);
                            if (e.target.checked) next.add(tool.id);
                            else next.delete(tool.id);
                            setSelectedTools(next);
                          }}
                          aria-describedby={`${id}-desc`}
                        />
                        <div className="flex-1">
                          <label htmlFor={id} className="font-medium">
                            {tool.name}
                          </label>{" "}
                          {!tool.available ? <Badge variant="secondary">coming soon</Badge> : null}
                          <p id={`${id}-desc`} className="text-sm text-muted-foreground">
                            {tool.description}
                          </p>
                        </div>
                      </div>
                      {checked ? (
                        <div className="mt-4 border-t pt-4">
                          <h3 className="mb-3 text-sm font-semibold">{tool.name} settings</h3>
                          <ToolSettingsForm
                            idPrefix={id}
                            schema={tool.config_schema as JsonSchema}
                            values={settingsOf(tool)}
                            errors={settingErrors[tool.id] ?? {}}
                            onChange={(v) => setSettings({ ...settings, [tool.id]: v })}
                          />
                        </div>
                      ) : null}
                    </div>
                  );
                })}
              </div>
            </Step>
            <div className="flex items-center gap-3">
              <Button type="submit" disabled={create.isPending || !name.trim()}>
                {create.isPending ? "Creating…" : "Create agent"}
              </Button>
              {!nameError ? <InlineError error={create.error} /> : null}
            </div>
          </>
        ) : null}
      </form>
    </>
  );
}
