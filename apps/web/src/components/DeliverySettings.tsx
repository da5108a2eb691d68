"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { FormField } from "@/components/form-field";
import { InlineError } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, NativeSelect } from "@/components/ui/input";
import { orchestrator, unwrap } from "@/lib/api/client";
import { useCreateGuard } from "@/lib/create-guard";

const WORKFLOW = "DAILY_WAREHOUSE_REPORT";

/** deliver_to: where the agent's reports are sent when a task succeeds. */
export function DeliverySettings({ agentId }: { agentId: string }) {
  const queryClient = useQueryClient();
  const queryKey = ["agents", agentId, "deliver-to"];
  const destinations = useQuery({
    queryKey,
    queryFn: () =>
      unwrap(orchestrator.GET("/agents/{agent_id}/deliver-to", { params: { path: { agent_id: agentId } } })),
  });
  const [kind, setKind] = useState<"email" | "webhook">("email");
  const [target, setTarget] = useState("");
  const [format, setFormat] = useState<"json" | "slack">("json");
  // The secret just made (by adding or rotating), shown until another or its removal.
  const [secret, setSecret] = useState<{ id: string; url: string; secret: string } | null>(null);
  const guard = useCreateGuard();
  const add = useMutation({
    mutationFn: () => {
      const body =
        kind === "email"
          ? { workflow_type: WORKFLOW, email: target.trim(), format: "json" as const }
          : { workflow_type: WORKFLOW, webhook_url: target.trim(), format };
      return unwrap(
        orchestrator.POST("/agents/{agent_id}/deliver-to", {
          params: {
            path: { agent_id: agentId },
            header: { "Idempotency-Key": guard.keyFor({ agentId, ...body }) },
          },
          body,
        }),
      );
    },
    onSuccess: (created) => {
      guard.succeeded();
      setTarget("");
      setSecret(created.secret ? { id: created.id, url: created.target, secret: created.secret } : null);
      return queryClient.invalidateQueries({ queryKey });
    },
  });
  const rotate = useMutation({
    mutationFn: (id: string) =>
      unwrap(
        orchestrator.POST("/agents/{agent_id}/deliver-to/{destination_id}/rotate-secret", {
          params: { path: { agent_id: agentId, destination_id: id } },
        }),
      ),
    onSuccess: (rotated) =>
      setSecret(rotated.secret ? { id: rotated.id, url: rotated.target, secret: rotated.secret } : null),
  });
  const remove = useMutation({
    mutationFn: (id: string) =>
      unwrap(
        orchestrator.DELETE("/agents/{agent_id}/deliver-to/{destination_id}", {
          params: { path: { agent_id: agentId, destination_id: id } },
        }),
      ),
    onSuccess: (_, id) => {
      setSecret((shown) => (shown?.id === id ? null : shown));
      return queryClient.invalidateQueries({ queryKey });
    },
  });
  return (
    <Card data-testid="delivery-settings">
      <CardHeader>
        <CardTitle>Delivery</CardTitle>
        <CardDescription>
          When a daily warehouse report succeeds, it is sent here: by email (charts inline) or to a webhook
          (JSON signed with <code>X-Phi-Signature</code>, or a Slack message). Attempts show on each task.
        </CardDescription>
      </CardHeader>
      <CardContent className="space-y-4">
        {destinations.data && destinations.data.length > 0 ? (
          <ul className="space-y-1 text-sm" data-testid="delivery-destinations">
            {destinations.data.map((d) => (
              <li key={d.id} className="flex flex-wrap items-center justify-between gap-2 rounded-md border px-3 py-1.5">
                <span>
                  <span className="font-medium">{d.kind === "email" ? "Email" : `Webhook (${d.format})`}</span>{" "}
                  <span className="break-all text-muted-foreground">{d.target}</span>
                </span>
                <span className="flex gap-2">
                  {d.kind === "webhook" ? (
                    <Button
                      variant="outline"
                      size="sm"
                      disabled={rotate.isPending}
                      onClick={() => {
                        if (window.confirm(`Give ${d.target} a new signing secret? The current one stops working now.`))
                          rotate.mutate(d.id);
                      }}
                      aria-label={`New signing secret for ${d.target}`}
                    >
                      New secret
                    </Button>
                  ) : null}
                  <Button
                    variant="outline"
                    size="sm"
                    disabled={remove.isPending}
                    onClick={() => remove.mutate(d.id)}
                    aria-label={`Remove ${d.target}`}
                  >
                    Remove
                  </Button>
                </span>
              </li>
            ))}
          </ul>
        ) : (
          <p className="text-sm text-muted-foreground">Reports are not sent anywhere yet.</p>
        )}
        {secret ? (
          <div role="status" className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm">
            Signing secret of {secret.url} — copy it now, it is not shown again:
            <code className="mt-1 block break-all font-mono" data-testid="webhook-secret">
              {secret.secret}
            </code>
          </div>
        ) : null}
        <form
          className="flex flex-wrap items-end gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            guard.once(() => add.mutateAsync());
          }}
        >
          <div className="w-36">
            <FormField label="Send by">
              {(p) => (
                <NativeSelect {...p} value={kind} onChange={(e) => setKind(e.target.value as "email" | "webhook")}>
                  <option value="email">Email</option>
                  <option value="webhook">Webhook</option>
                </NativeSelect>
              )}
            </FormField>
          </div>
          <div className="min-w-64 flex-1">
            <FormField label={kind === "email" ? "Email address" : "Webhook URL (https://…)"}>
              {(p) => (
                <Input
                  {...p}
                  type={kind === "email" ? "email" : "url"}
                  required
                  value={target}
                  onChange={(e) => setTarget(e.target.value)}
                />
              )}
            </FormField>
          </div>
          {kind === "webhook" ? (
            <div className="w-36">
              <FormField label="Payload">
                {(p) => (
                  <NativeSelect {...p} value={format} onChange={(e) => setFormat(e.target.value as "json" | "slack")}>
                    <option value="json">JSON</option>
                    <option value="slack">Slack</option>
                  </NativeSelect>
                )}
              </FormField>
            </div>
          ) : null}
          <Button type="submit" disabled={add.isPending}>
            {add.isPending ? "Adding…" : "Add destination"}
          </Button>
        </form>
        <InlineError error={add.error ?? rotate.error ?? remove.error} />
      </CardContent>
    </Card>
  );
}
