"use client";

import { useInfiniteQuery, useQuery } from "@tanstack/react-query";

import { core, orchestrator, unwrap, type OrchestratorSchemas, type Schemas } from "./client";

export const keys = {
  me: ["me"] as const,
  orgs: ["orgs"] as const,
  org: (orgId: string) => ["orgs", orgId] as const,
  orgStats: (orgId: string) => ["orgs", orgId, "stats"] as const,
  members: (orgId: string) => ["orgs", orgId, "members"] as const,
  audit: (orgId: string, filters: AuditFilters) => ["orgs", orgId, "audit", filters] as const,
  agents: (orgId: string) => ["orgs", orgId, "agents"] as const,
  agent: (agentId: string) => ["agents", agentId] as const,
  documents: (agentId: string) => ["agents", agentId, "documents"] as const,
  profileVersions: (agentId: string) => ["agents", agentId, "profile-versions"] as const,
  profileVersion: (agentId: string, version: number) =>
    ["agents", agentId, "profile-versions", version] as const,
  generation: (agentId: string, id: string) => ["agents", agentId, "generations", id] as const,
  config: (agentId: string) => ["agents", agentId, "config"] as const,
  industries: ["industries"] as const,
  roles: (industryKey: string) => ["role-templates", industryKey] as const,
  tools: ["tools"] as const,
  workflows: ["workflows"] as const,
  keys: (agentId: string) => ["agents", agentId, "local-agent-keys"] as const,
  localAgents: (agentId: string) => ["agents", agentId, "local-agents"] as const,
  schedules: (agentId: string) => ["agents", agentId, "schedules"] as const,
  tasks: (agentId: string, status: string) => ["agents", agentId, "tasks", status] as const,
  allTasks: (agentId: string) => ["agents", agentId, "tasks"] as const,
  task: (taskId: string) => ["tasks", taskId] as const,
  adminOrgs: ["admin", "orgs"] as const,
  adminTasks: (filters: Record<string, string>) => ["admin", "tasks", filters] as const,
  adminTask: (taskId: string) => ["admin", "task", taskId] as const,
  adminFailures: ["admin", "failures"] as const,
};

export function useMe() {
  return useQuery({ queryKey: keys.me, queryFn: () => unwrap(core.GET("/me")) });
}

export function useOrgs() {
  return useQuery({ queryKey: keys.orgs, queryFn: () => unwrap(core.GET("/orgs")) });
}

export function useOrg(orgId: string) {
  return useQuery({
    queryKey: keys.org(orgId),
    queryFn: () => unwrap(core.GET("/orgs/{org_id}", { params: { path: { org_id: orgId } } })),
    enabled: Boolean(orgId),
  });
}

export function useOrgStats(orgId: string) {
  return useQuery({
    queryKey: keys.orgStats(orgId),
    queryFn: () =>
      unwrap(core.GET("/orgs/{org_id}/stats", { params: { path: { org_id: orgId } } })),
  });
}

export function useMembers(orgId: string) {
  return useQuery({
    queryKey: keys.members(orgId),
    queryFn: () =>
      unwrap(core.GET("/orgs/{org_id}/members", { params: { path: { org_id: orgId } } })),
  });
}

/** Filters of the organization's audit log (empty strings are left out). */
export type AuditFilters = { actor: string; action: string; since: string; until: string };

export function auditQuery(filters: AuditFilters): Record<string, string> {
  const query: Record<string, string> = {};
  if (filters.actor.trim()) query.actor = filters.actor.trim();
  if (filters.action) query.action = filters.action;
  // Dates from <input type="date">: the whole days, in the browser's time zone.
  if (filters.since) query.since = new Date(`${filters.since}T00:00:00`).toISOString();
  if (filters.until) {
    const end = new Date(`${filters.until}T00:00:00`);
    end.setDate(end.getDate() + 1);
    query.until = end.toISOString();
  }
  return query;
}

export function useAuditEvents(orgId: string, filters: AuditFilters) {
  return useInfiniteQuery({
    queryKey: keys.audit(orgId, filters),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        core.GET("/orgs/{org_id}/audit", {
          params: {
            path: { org_id: orgId },
            query: { ...auditQuery(filters), limit: 50, ...(pageParam ? { cursor: pageParam } : {}) },
          },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor,
  });
}

export function useAgents(orgId: string) {
  return useQuery({
    queryKey: keys.agents(orgId),
    queryFn: () =>
      unwrap(core.GET("/orgs/{org_id}/agents", { params: { path: { org_id: orgId } } })),
  });
}

export function useAgent(agentId: string) {
  return useQuery({
    queryKey: keys.agent(agentId),
    queryFn: () =>
      unwrap(core.GET("/agents/{agent_id}", { params: { path: { agent_id: agentId } } })),
  });
}

const SETTLED_DOCUMENT = new Set(["READY", "FAILED"]);

export function documentsSettled(documents: Schemas["DocumentOut"][] | undefined): boolean {
  return (documents ?? []).every((d) => SETTLED_DOCUMENT.has(d.status));
}

export function useDocuments(agentId: string) {
  return useQuery({
    queryKey: keys.documents(agentId),
    queryFn: () =>
      unwrap(
        core.GET("/agents/{agent_id}/documents", { params: { path: { agent_id: agentId } } }),
      ),
    // Poll while anything is still being ingested; stop once every document settled.
    refetchInterval: (query) => (documentsSettled(query.state.data) ? false : 1000),
  });
}

export function useIndustries() {
  return useQuery({
    queryKey: keys.industries,
    queryFn: () => unwrap(core.GET("/industries")),
    staleTime: Infinity,
  });
}

export function useRoleTemplates(industryKey: string | null) {
  return useQuery({
    queryKey: keys.roles(industryKey ?? ""),
    queryFn: () =>
      unwrap(
        core.GET("/role-templates", { params: { query: { industry_key: industryKey ?? "" } } }),
      ),
    enabled: Boolean(industryKey),
    staleTime: Infinity,
  });
}

export function useTools() {
  return useQuery({
    queryKey: keys.tools,
    queryFn: () => unwrap(core.GET("/tools")),
    staleTime: Infinity,
  });
}

export function useWorkflows() {
  return useQuery({
    queryKey: keys.workflows,
    queryFn: () => unwrap(orchestrator.GET("/workflows")),
    staleTime: Infinity,
  });
}

export function useProfileVersions(agentId: string) {
  return useQuery({
    queryKey: keys.profileVersions(agentId),
    queryFn: () =>
      unwrap(
        core.GET("/agents/{agent_id}/profile-versions", {
          params: { path: { agent_id: agentId } },
        }),
      ),
  });
}

export function useProfileVersion(agentId: string, version: number | null) {
  return useQuery({
    queryKey: keys.profileVersion(agentId, version ?? 0),
    queryFn: () =>
      unwrap(
        core.GET("/agents/{agent_id}/profile-versions/{version}", {
          params: { path: { agent_id: agentId, version: version ?? 0 } },
        }),
      ),
    enabled: version !== null,
  });
}

const SETTLED_GENERATION = new Set(["SUCCEEDED", "FAILED"]);

export function useGeneration(agentId: string, generationId: string | null) {
  return useQuery({
    queryKey: keys.generation(agentId, generationId ?? ""),
    queryFn: () =>
      unwrap(
        core.GET("/agents/{agent_id}/profile-generations/{generation_id}", {
          params: { path: { agent_id: agentId, generation_id: generationId ?? "" } },
        }),
      ),
    enabled: generationId !== null,
    refetchInterval: (query) =>
      query.state.data && SETTLED_GENERATION.has(query.state.data.status) ? false : 1000,
  });
}

export function useAgentConfig(agentId: string) {
  return useQuery({
    queryKey: keys.config(agentId),
    queryFn: () =>
      unwrap(
        core.GET("/agents/{agent_id}/config", {
          params: { path: { agent_id: agentId }, query: { format: "yaml" } },
          parseAs: "text",
        }),
      ) as Promise<string>,
  });
}

export function useAdminOrgs(enabled: boolean) {
  return useQuery({
    queryKey: keys.adminOrgs,
    queryFn: () => unwrap(core.GET("/admin/orgs", { params: { query: { limit: 500 } } })),
    enabled,
  });
}

export function useAdminFailures(enabled: boolean) {
  return useQuery({
    queryKey: keys.adminFailures,
    queryFn: () => unwrap(core.GET("/admin/failures")),
    enabled,
  });
}

export function useLocalAgentKeys(agentId: string) {
  return useQuery({
    queryKey: keys.keys(agentId),
    queryFn: () =>
      unwrap(
        orchestrator.GET("/agents/{agent_id}/local-agent-keys", {
          params: { path: { agent_id: agentId } },
        }),
      ),
  });
}

export function useLocalAgents(agentId: string) {
  return useQuery({
    queryKey: keys.localAgents(agentId),
    queryFn: () =>
      unwrap(
        orchestrator.GET("/agents/{agent_id}/local-agents", {
          params: { path: { agent_id: agentId } },
        }),
      ),
    // Heartbeats move the status and the last-seen time: keep them fresh while shown.
    refetchInterval: 10_000,
  });
}

export function useSchedules(agentId: string) {
  return useQuery({
    queryKey: keys.schedules(agentId),
    queryFn: () =>
      unwrap(
        orchestrator.GET("/agents/{agent_id}/schedules", {
          params: { path: { agent_id: agentId } },
        }),
      ),
  });
}

export type TaskStatus = OrchestratorSchemas["TaskSummary"]["status"];

export function useTasks(agentId: string, status: TaskStatus | "") {
  return useQuery({
    queryKey: keys.tasks(agentId, status ?? ""),
    queryFn: () =>
      unwrap(
        orchestrator.GET("/agents/{agent_id}/tasks", {
          params: {
            path: { agent_id: agentId },
            query: { limit: 50, ...(status ? { status } : {}) },
          },
        }),
      ),
  });
}

export function useTask(taskId: string | null) {
  return useQuery({
    queryKey: keys.task(taskId ?? ""),
    queryFn: () =>
      unwrap(
        orchestrator.GET("/tasks/{task_id}", { params: { path: { task_id: taskId ?? "" } } }),
      ),
    enabled: taskId !== null,
    // Events say when the task moves; a local agent coming online or taking its call does
    // not, so an unfinished task is read again now and then for its waiting explanation.
    refetchInterval: (query) =>
      query.state.data && !["SUCCESS", "FAILED", "CANCELLED"].includes(query.state.data.status) ? 5000 : false,
  });
}

export interface AdminTaskFilters {
  status: TaskStatus | "";
  type: string;
  org_id: string;
}

export function useAdminTasks(filters: AdminTaskFilters) {
  return useQuery({
    queryKey: keys.adminTasks({ ...filters }),
    queryFn: () =>
      unwrap(
        orchestrator.GET("/admin/tasks", {
          params: {
            query: {
              limit: 100,
              ...(filters.status ? { status: filters.status } : {}),
              ...(filters.type ? { type: filters.type } : {}),
              ...(filters.org_id ? { org_id: filters.org_id } : {}),
            },
          },
        }),
      ),
  });
}

export function useAdminTask(taskId: string | null) {
  return useQuery({
    queryKey: keys.adminTask(taskId ?? ""),
    queryFn: () =>
      unwrap(
        orchestrator.GET("/admin/tasks/{task_id}", {
          params: { path: { task_id: taskId ?? "" } },
        }),
      ),
    enabled: taskId !== null,
  });
}
