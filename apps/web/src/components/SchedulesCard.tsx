"use client";

import { useState } from "react";

import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { type Schemas } from "@/lib/api/client";
import { useSchedules } from "@/lib/api/queries";

type Suggestion = { type?: string | null; description: string; schedule?: string | null; reason: string };

function suggestionsOf(agent: Schemas["AgentOut"]): Suggestion[] {
  const raw = (agent.config as { schedule_suggestions?: unknown }).schedule_suggestions;
  return Array.isArray(raw)
    ? raw.filter((s): s is Suggestion => typeof s === "object" && s !== null && "description" in s)
    : [];
}

// Characters of a scheduled agent task's instruction shown before "Show all".
const INSTRUCTION_SHOWN = 120;

// What a scheduled agent task is told to do: the start of it, the whole text on hover (title)
// and on "Show all".
function ScheduledInstruction({ text }: { text: string }) {
  const [open, setOpen] = useState(false);
  const long = text.length > INSTRUCTION_SHOWN;
  const shown = open || !long ? text : `${text.slice(0, INSTRUCTION_SHOWN).trimEnd()}…`;
  return (
    <div className="text-muted-foreground">
      <span className="text-foreground">Instruction: </span>
      <span data-testid="schedule-instruction" title={text} className="whitespace-pre-wrap break-words">
        {shown}
      </span>
      {long ? (
        <button
          type="button"
          className="ml-2 text-xs font-medium text-primary underline-offset-4 hover:underline"
          aria-expanded={open}
          onClick={() => setOpen(!open)}
        >
          {open ? "Show less" : "Show all"}
        </button>
      ) : null}
    </div>
  );
}

// What the scheduler will run for this agent, and what it will not and why: a schedule that
// looks configured but never runs is the failure this card exists to show.
export function SchedulesCard({ agent }: { agent: Schemas["AgentOut"] }) {
  const schedules = useSchedules(agent.id);
  const suggestions = suggestionsOf(agent);
  return (
    <Card>
      <CardHeader>
        <CardTitle>Schedules</CardTitle>
        <CardDescription>Workflows the scheduler starts by itself, in the organization&apos;s time zone.</CardDescription>
      </CardHeader>
      <CardContent className="space-y-4">
        {schedules.isPending ? <LoadingState label="Loading schedules" /> : null}
        {schedules.isError ? <ErrorState error={schedules.error} onRetry={() => schedules.refetch()} /> : null}
        {schedules.data && schedules.data.length === 0 ? (
          <EmptyState title="Nothing is scheduled">Workflows of this agent run when someone starts them.</EmptyState>
        ) : null}
        {schedules.data && schedules.data.length > 0 ? (
          <ul className="divide-y rounded-md border text-sm" aria-label="Configured schedules">
            {schedules.data.map((s, i) => (
              <li key={`${s.type}-${s.schedule}-${i}`} className="flex flex-wrap items-start gap-3 px-4 py-3">
                <Badge variant={s.runs ? "success" : "destructive"}>{s.runs ? "runs" : "does not run"}</Badge>
                <div className="min-w-0 flex-1">
                  <div className="font-medium">
                    {s.type} <code className="ml-1 font-mono text-xs text-muted-foreground">{s.schedule}</code>
                  </div>
                  {s.instruction ? <ScheduledInstruction text={s.instruction} /> : null}
                  {s.runs && s.next_run ? (
                    <div className="text-muted-foreground">Next run {new Date(s.next_run).toLocaleString()}</div>
                  ) : null}
                  {s.problem ? <div className="text-destructive">Why not: {s.problem}</div> : null}
                  {s.skipped ? <div className="text-destructive">Skipped for now: {s.skipped}</div> : null}
                  {s.description ? <div className="text-muted-foreground">{s.description}</div> : null}
                </div>
              </li>
            ))}
          </ul>
        ) : null}
        {suggestions.length > 0 ? (
          <div className="space-y-2">
            <h3 className="text-sm font-medium">Recurring work the documents state, not scheduled</h3>
            <p className="text-sm text-muted-foreground">
              No workflow type runs these yet, so they are listed here rather than configured.
            </p>
            <ul className="divide-y rounded-md border text-sm" aria-label="Schedule suggestions">
              {suggestions.map((s, i) => (
                <li key={i} className="px-4 py-3">
                  <div>{s.description}</div>
                  <div className="text-muted-foreground">
                    {s.schedule ? <code className="mr-2 font-mono text-xs">{s.schedule}</code> : null}
                    {s.reason}
                  </div>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </CardContent>
    </Card>
  );
}
