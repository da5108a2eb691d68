"use client";

import Link from "next/link";

import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { useAgents } from "@/lib/api/queries";

export function AgentList({ orgId, canCreate }: { orgId: string; canCreate: boolean }) {
  const agents = useAgents(orgId);
  if (agents.isPending) return <LoadingState label="Loading agents" />;
  if (agents.isError) return <ErrorState error={agents.error} onRetry={() => agents.refetch()} />;
  if (agents.data.length === 0) {
    return (
      <EmptyState title="No agents yet">
        {canCreate ? (
          <Button asChild className="mt-2">
            <Link href={`/orgs/${orgId}/agents/new`}>Create your first agent</Link>
          </Button>
        ) : (
          "An owner or admin of this organization can create one."
        )}
      </EmptyState>
    );
  }
  return (
    <div className="overflow-x-auto rounded-lg border bg-background">
      <table className="w-full text-sm">
        <caption className="sr-only">Agents of this organization</caption>
        <thead className="bg-muted/50 text-left text-muted-foreground">
          <tr>
            <th scope="col" className="px-4 py-2 font-medium">Name</th>
            <th scope="col" className="px-4 py-2 font-medium">Status</th>
            <th scope="col" className="px-4 py-2 font-medium">Tools</th>
            <th scope="col" className="px-4 py-2 font-medium">Updated</th>
          </tr>
        </thead>
        <tbody>
          {agents.data.map((agent) => (
            <tr key={agent.id} className="border-t">
              <td className="px-4 py-2 font-medium">
                <Link className="hover:underline" href={`/agents/${agent.id}`}>
                  {agent.name}
                </Link>
              </td>
              <td className="px-4 py-2">
                <Badge variant={agent.status === "ACTIVE" ? "success" : "secondary"}>
                  {agent.status}
                </Badge>
              </td>
              <td className="px-4 py-2">{agent.tool_keys.join(", ") || "—"}</td>
              <td className="px-4 py-2 text-muted-foreground">
                {new Date(agent.updated_at).toLocaleString()}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
