"use client";

import { ErrorState, LoadingState } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { useAgentConfig } from "@/lib/api/queries";

/** The local agent's config file as YAML, inline and as a download. */
export function ConfigViewer({ agentId }: { agentId: string }) {
  const config = useAgentConfig(agentId);
  return (
    <Card>
      <CardHeader>
        <div className="flex flex-wrap items-start justify-between gap-3">
          <div>
            <CardTitle>Local agent config</CardTitle>
            <CardDescription>
              Save it as <code>phi-agent-config.yaml</code> beside <code>phi-agent</code> on your
              machine. It holds no secrets and no connections: which databases and folders the
              local agent may read, and its limits, are set in your own <code>policy.yaml</code>
              on that machine, which the cloud never sees. Start from the one made for this
              agent&apos;s tools.
            </CardDescription>
          </div>
          <div className="flex gap-2">
            <Button asChild>
              {/* Same-origin GET through the API route: the browser saves it with its filename. */}
              <a href={`/api/core/agents/${agentId}/config?format=yaml`} download>
                Download Config
              </a>
            </Button>
            <Button asChild variant="outline">
              <a href={`/api/core/agents/${agentId}/config?format=json`} download>
                JSON
              </a>
            </Button>
            <Button asChild variant="outline">
              <a href={`/api/core/agents/${agentId}/policy-starter`} download>
                Starter policy.yaml
              </a>
            </Button>
          </div>
        </div>
      </CardHeader>
      <CardContent>
        {config.isPending ? (
          <LoadingState label="Loading the config" />
        ) : config.isError ? (
          <ErrorState error={config.error} onRetry={() => config.refetch()} />
        ) : (
          <pre
            aria-label="Config YAML"
            tabIndex={0}
            className="max-h-[32rem] overflow-auto rounded-md bg-muted p-4 font-mono text-xs leading-relaxed"
            data-testid="config-yaml"
          >
            {config.data}
          </pre>
        )}
      </CardContent>
    </Card>
  );
}
