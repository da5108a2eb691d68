"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { FormField } from "@/components/form-field";
import { Markdown } from "@/components/Markdown";
import { InlineError } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, Textarea } from "@/components/ui/input";
import { core, orchestrator, unwrap, type OrchestratorSchemas, type Schemas } from "@/lib/api/client";
import { keys, useIndustries, useRoleTemplates } from "@/lib/api/queries";
import { useCreateGuard } from "@/lib/create-guard";

type Task = OrchestratorSchemas["TaskDetail"];

/** Tools an agent task may need approved before it runs them (the ones with effects or
 * reading the customer's data). */
const APPROVABLE = ["db_query", "db_schema", "file_read", "file_list", "run_workflow", "remember"];

/** "Give a task": an instruction in words, with the role's example instructions as suggestions. */
export function GiveTask({
  agent,
  onStarted,
}: {
  agent: Schemas["AgentOut"];
  onStarted: (taskId: string) => void;
}) {
  const queryClient = useQueryClient();
  const industries = useIndustries();
  const industry = industries.data?.find((i) => i.id === agent.industry_id);
  const roles = useRoleTemplates(industry?.key ?? null);
  const examples = roles.data?.find((r) => r.id === agent.role_template_id)?.example_tasks ?? [];
  const [instruction, setInstruction] = useState("");
  const guard = useCreateGuard();
  const give = useMutation({
    mutationFn: () => {
      const body = { type: "AGENT_TASK" as const, input: { instruction } };
      return unwrap(
        orchestrator.POST("/agents/{agent_id}/run-task", {
          params: {
            path: { agent_id: agent.id },
            header: { "Idempotency-Key": guard.keyFor(body) },
          },
          body,
        }),
      );
    },
    onSuccess: (created) => {
      guard.succeeded();
      onStarted(created.task_id);
      setInstruction("");
      return queryClient.invalidateQueries({ queryKey: keys.allTasks(agent.id) });
    },
  });
  return (
    <Card data-testid="give-task">
      <CardHeader>
        <CardTitle>Give a task</CardTitle>
        <CardDescription>
          Say what you need in plain words. The agent works through its tools step by step
          (documents, memory, your database and files through the local agent) and shows each
          step below.
        </CardDescription>
      </CardHeader>
      <CardContent className="space-y-3">
        <form
          className="space-y-3"
          onSubmit={(e) => {
            e.preventDefault();
            if (instruction.trim()) guard.once(() => give.mutateAsync());
          }}
        >
          <FormField label="Task">
            {(p) => (
              <Textarea
                {...p}
                rows={3}
                maxLength={4000}
                value={instruction}
                placeholder="e.g. Which zone had the most late orders last week, and why?"
                onChange={(e) => setInstruction(e.target.value)}
              />
            )}
          </FormField>
          {examples.length ? (
            <div className="flex flex-wrap gap-2" aria-label="Suggestions">
              {examples.map((example) => (
                <button
                  key={example}
                  type="button"
                  className="rounded-full border px-3 py-1 text-left text-xs hover:bg-muted"
                  onClick={() => setInstruction(example)}
                >
                  {example}
                </button>
              ))}
            </div>
          ) : null}
          <Button type="submit" disabled={give.isPending || !instruction.trim()}>
            {give.isPending ? "Starting…" : "Give the task"}
          </Button>
        </form>
        <InlineError error={give.error} />
      </CardContent>
    </Card>
  );
}

/** Which tool calls of agent tasks wait for an OWNER's or ADMIN's approval. */
export function ApprovalSettings({ agent }: { agent: Schemas["AgentOut"] }) {
  const queryClient = useQueryClient();
  const config = (agent.config ?? {}) as Record<string, unknown>;
  const current = ((config.agent_tasks as { requires_approval?: string[] } | undefined)?.requires_approval ??
    []) as string[];
  const save = useMutation({
    mutationFn: (requires: string[]) =>
      unwrap(
        core.PATCH("/agents/{agent_id}", {
          params: { path: { agent_id: agent.id } },
          body: { config: { ...config, agent_tasks: { ...(config.agent_tasks as object), requires_approval: requires } } },
        }),
      ),
    onSuccess: (saved) => queryClient.setQueryData(keys.agent(agent.id), saved),
    onError: () => setSelected(current),
  });
  // Shown at once; put back if the save fails.
  const [selected, setSelected] = useState<string[]>(current);
  return (
    <Card>
      <CardHeader>
        <CardTitle>Approvals for tasks</CardTitle>
        <CardDescription>
          Before a task uses one of these tools it stops and shows the exact call; an owner or
          admin approves or rejects it.
        </CardDescription>
      </CardHeader>
      <CardContent className="flex flex-wrap gap-4">
        {APPROVABLE.map((tool) => (
          <label key={tool} className="inline-flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              checked={selected.includes(tool)}
              disabled={save.isPending}
              onChange={(e) => {
                const next = e.target.checked ? [...selected, tool] : selected.filter((t) => t !== tool);
                setSelected(next);
                save.mutate(next);
              }}
            />
            <code>{tool}</code>
          </label>
        ))}
        <InlineError error={save.error} />
      </CardContent>
    </Card>
  );
}

/** The call a task waits to have approved, with approve and reject in place. */
export function ApprovalBox({ task }: { task: Task }) {
  const queryClient = useQueryClient();
  const [reason, setReason] = useState("");
  const pending = task.pending_approval;
  const decide = useMutation({
    mutationFn: (decision: "approve" | "reject") =>
      unwrap(
        orchestrator.POST("/tasks/{task_id}/approval", {
          params: { path: { task_id: task.id } },
          body: { decision, ...(reason ? { reason } : {}) },
        }),
      ),
    onSuccess: (saved) => queryClient.setQueryData(keys.task(task.id), saved),
  });
  if (!pending) return null;
  const sql = typeof pending.arguments.sql === "string" ? pending.arguments.sql : null;
  return (
    <section
      aria-label="Approval needed"
      className="space-y-3 rounded-lg border border-amber-400 bg-amber-50 p-4"
      data-testid="approval-box"
    >
      <p className="text-sm font-semibold">
        The agent wants to call <code>{pending.tool}</code>. Approve it?
      </p>
      {sql ? (
        <pre className="overflow-x-auto rounded bg-background p-2 text-xs">{sql}</pre>
      ) : (
        <pre className="overflow-x-auto rounded bg-background p-2 text-xs">
          {JSON.stringify(pending.arguments, null, 2)}
        </pre>
      )}
      <div className="flex flex-wrap items-end gap-2">
        <div className="w-72">
          <FormField label="Reason (told to the agent when you reject)">
            {(p) => <Input {...p} value={reason} maxLength={2000} onChange={(e) => setReason(e.target.value)} />}
          </FormField>
        </div>
        <Button disabled={decide.isPending} onClick={() => decide.mutate("approve")}>
          Approve
        </Button>
        <Button variant="outline" disabled={decide.isPending} onClick={() => decide.mutate("reject")}>
          Reject
        </Button>
      </div>
      <InlineError error={decide.error} />
    </section>
  );
}

interface AgentOutput {
  answer?: string | null;
  evidence_md?: string;
  stopped_by?: string | null;
}

/** An agent task's final answer with its evidence, or what it found before a limit stopped it. */
export function AgentAnswer({ output }: { output: AgentOutput }) {
  if (output.answer) {
    return (
      <section aria-label="Answer" className="rounded-lg border p-4" data-testid="task-answer">
        <Markdown source={output.answer} />
      </section>
    );
  }
  if (output.evidence_md) {
    return (
      <section aria-label="Found before it stopped" className="rounded-lg border p-4" data-testid="task-answer">
        <p className="mb-2 text-sm text-muted-foreground">
          Stopped by its {output.stopped_by ?? ""} limit; what it had found:
        </p>
        <Markdown source={output.evidence_md} />
      </section>
    );
  }
  return null;
}
