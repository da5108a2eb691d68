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
import { matchSnippet } from "@/lib/search-snippet";

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
          <>
            <p className="text-xs text-muted-foreground">
              Best first, by how well the words and the meaning match; the marked sentence is
              the closest one in each passage.
            </p>
            <ol className="space-y-3" aria-label="Search results">
              {search.data.results.map((hit, i) => {
                const part = matchSnippet(hit.text, hit.match_start, hit.match_end);
                return (
                  <li key={hit.chunk_id} className="min-w-0 rounded-lg border p-3" data-testid="search-hit">
                    <p className="text-xs text-muted-foreground break-words">
                      <span className="mr-1 font-semibold text-foreground" aria-label={`Result ${i + 1}`}>
                        {i + 1}.
                      </span>
                      <span className="font-medium text-foreground">{hit.document_name}</span>
                      {hit.page ? `, page ${hit.page}${hit.page_end && hit.page_end !== hit.page ? `–${hit.page_end}` : ""}` : ""}
                      {hit.org_wide ? " · organization-wide" : ""}
                    </p>
                    {hit.heading_path.length ? (
                      <p className="text-xs break-words" data-testid="search-hit-section">
                        Section: {hit.heading_path.join(" › ")}
                      </p>
                    ) : null}
                    <p className="mt-2 text-sm break-words">
                      {part.before}
                      {/* The list's order is the fused ranking (words and meaning); this
                          sentence's own similarity would read as an out-of-order score, so it
                          is only a tooltip. */}
                      <mark className="rounded bg-amber-100 px-0.5" title={`meaning similarity ${hit.score.toFixed(3)}`}>
                        {part.match}
                      </mark>
                      {part.after}
                    </p>
                  </li>
                );
              })}
            </ol>
          </>
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
