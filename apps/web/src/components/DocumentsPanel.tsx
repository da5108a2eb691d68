"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { DocumentUpload } from "@/components/DocumentUpload";
import { FormField } from "@/components/form-field";
import { EmptyState, ErrorState, InlineError, LoadingState } from "@/components/states";
import { Badge, type BadgeProps } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { core, unwrap, type Schemas } from "@/lib/api/client";
import { keys, useDocuments } from "@/lib/api/queries";

const STATUS_VARIANT: Record<string, BadgeProps["variant"]> = {
  READY: "success",
  FAILED: "destructive",
  PROCESSING: "warning",
  PENDING: "secondary",
};

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function DocumentRow({ agentId, doc }: { agentId: string; doc: Schemas["DocumentOut"] }) {
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: () =>
      unwrap(
        core.DELETE("/agents/{agent_id}/documents/{document_id}", {
          params: { path: { agent_id: agentId, document_id: doc.id } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: keys.documents(agentId) }),
  });
  return (
    <tr className="border-t align-top" data-testid="document-row">
      <td className="px-4 py-2">
        <div className="font-medium">{doc.name}</div>
        <div className="text-xs text-muted-foreground">
          {doc.source_type} · {formatBytes(doc.size_bytes)}
          {doc.page_count ? ` · ${doc.page_count} pages` : ""}
        </div>
        {doc.error ? <p className="mt-1 text-sm text-destructive">{doc.error}</p> : null}
      </td>
      <td className="px-4 py-2">
        <Badge variant={STATUS_VARIANT[doc.status] ?? "outline"} aria-live="polite">
          {doc.status}
        </Badge>
      </td>
      <td className="px-4 py-2 tabular-nums">{doc.chunk_count}</td>
      <td className="px-4 py-2 text-right">
        <Button
          variant="outline"
          size="sm"
          disabled={remove.isPending}
          aria-label={`Delete ${doc.name}`}
          onClick={() => remove.mutate()}
        >
          Delete
        </Button>
        <InlineError error={remove.error} />
      </td>
    </tr>
  );
}

function snippet(text: string, max = 320): string {
  return text.length > max ? text.slice(0, max).trimEnd() + "…" : text;
}

function DocumentSearch({ agentId }: { agentId: string }) {
  const [query, setQuery] = useState("");
  const search = useMutation({
    mutationFn: (q: string) =>
      unwrap(
        core.POST("/agents/{agent_id}/search-docs", {
          params: { path: { agent_id: agentId } },
          body: { query: q, top_k: 5 },
        }),
      ),
  });
  return (
    <div className="space-y-4">
      <form
        role="search"
        className="flex items-end gap-3"
        onSubmit={(e) => {
          e.preventDefault();
          if (query.trim()) search.mutate(query.trim());
        }}
      >
        <div className="flex-1">
          <FormField label="Search the documents">
            {(p) => (
              <Input
                {...p}
                type="search"
                value={query}
                placeholder="e.g. when is the stock count due?"
                onChange={(e) => setQuery(e.target.value)}
              />
            )}
          </FormField>
        </div>
        <Button type="submit" disabled={search.isPending || !query.trim()}>
          {search.isPending ? "Searching…" : "Search"}
        </Button>
      </form>
      <InlineError error={search.error} />
      {search.data ? (
        search.data.results.length === 0 ? (
          <EmptyState title="Nothing found">Try other words, or upload more documents.</EmptyState>
        ) : (
          <ol className="space-y-3" aria-label="Search results">
            {search.data.results.map((hit) => (
              <li key={hit.chunk_id} className="rounded-lg border p-3" data-testid="search-hit">
                <p className="text-sm">{snippet(hit.text)}</p>
                <p className="mt-2 text-xs text-muted-foreground">
                  From <span className="font-medium text-foreground">{hit.document_name}</span>
                  {hit.page ? `, page ${hit.page}${hit.page_end && hit.page_end !== hit.page ? `–${hit.page_end}` : ""}` : ""}
                  {hit.heading_path.length ? ` · ${hit.heading_path.join(" › ")}` : ""}
                  {hit.org_wide ? " · organization-wide" : ""} · score {hit.score.toFixed(3)}
                </p>
              </li>
            ))}
          </ol>
        )
      ) : null}
    </div>
  );
}

export function DocumentsPanel({ agentId }: { agentId: string }) {
  const documents = useDocuments(agentId);
  return (
    <div className="space-y-6">
      <Card>
        <CardHeader>
          <CardTitle>Upload</CardTitle>
          <CardDescription>
            Job descriptions, SOPs and policies the agent should know. Each is split, embedded
            and becomes searchable once it is READY.
          </CardDescription>
        </CardHeader>
        <CardContent>
          <DocumentUpload agentId={agentId} />
        </CardContent>
      </Card>
      <section aria-labelledby="docs-heading" className="space-y-3">
        <h2 id="docs-heading" className="text-lg font-semibold">
          Documents
        </h2>
        {documents.isPending ? (
          <LoadingState label="Loading documents" />
        ) : documents.isError ? (
          <ErrorState error={documents.error} onRetry={() => documents.refetch()} />
        ) : documents.data.length === 0 ? (
          <EmptyState title="No documents yet">Upload the job&apos;s documents above.</EmptyState>
        ) : (
          <div className="overflow-x-auto rounded-lg border bg-background">
            <table className="w-full text-sm">
              <caption className="sr-only">Documents of this agent</caption>
              <thead className="bg-muted/50 text-left text-muted-foreground">
                <tr>
                  <th scope="col" className="px-4 py-2 font-medium">Document</th>
                  <th scope="col" className="px-4 py-2 font-medium">Status</th>
                  <th scope="col" className="px-4 py-2 font-medium">Chunks</th>
                  <th scope="col" className="px-4 py-2"><span className="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {documents.data.map((doc) => (
                  <DocumentRow key={doc.id} agentId={agentId} doc={doc} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <Card>
        <CardHeader>
          <CardTitle>Search</CardTitle>
          <CardDescription>What the agent would find in its documents.</CardDescription>
        </CardHeader>
        <CardContent>
          <DocumentSearch agentId={agentId} />
        </CardContent>
      </Card>
    </div>
  );
}
