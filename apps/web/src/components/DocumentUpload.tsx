"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";

import { FormField } from "@/components/form-field";
import { InlineError } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Input, NativeSelect } from "@/components/ui/input";
import { Progress } from "@/components/ui/progress";
import type { Schemas } from "@/lib/api/client";
import { toApiError } from "@/lib/api/errors";
import { keys } from "@/lib/api/queries";
import { useCreateGuard } from "@/lib/create-guard";

const SOURCE_TYPES: { value: Schemas["SourceType"]; label: string }[] = [
  { value: "JD", label: "Job description" },
  { value: "SOP", label: "Standard operating procedure" },
  { value: "POLICY", label: "Policy" },
  { value: "MANUAL", label: "Manual" },
  { value: "OTHER", label: "Other" },
];

/** XMLHttpRequest rather than fetch: only it reports upload progress. */
function uploadWithProgress(
  url: string,
  body: FormData,
  idempotencyKey: string,
  onProgress: (percent: number) => void,
): Promise<Schemas["DocumentOut"]> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Idempotency-Key", idempotencyKey);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress((e.loaded / e.total) * 100);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response as Schemas["DocumentOut"]);
      else reject(toApiError(xhr.status, xhr.response));
    };
    xhr.onerror = () => reject(new Error("the upload was interrupted; check the connection"));
    xhr.send(body);
  });
}

export function DocumentUpload({ agentId }: { agentId: string }) {
  const queryClient = useQueryClient();
  const fileInput = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [sourceType, setSourceType] = useState<Schemas["SourceType"]>("SOP");
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const guard = useCreateGuard();

  function onSubmit(event: React.FormEvent) {
    event.preventDefault();
    guard.once(send);
  }

  async function send() {
    if (!file) {
      setError("choose a file first");
      return;
    }
    // The same file, kind and place keep one key until it is stored: a retry after a lost
    // answer gets the first answer instead of a 409 for a "duplicate" of itself.
    const key = guard.keyFor({
      agentId,
      name: file.name,
      size: file.size,
      lastModified: file.lastModified,
      sourceType,
    });
    const body = new FormData();
    body.append("file", file);
    body.append("source_type", sourceType);
    setError(null);
    setProgress(0);
    try {
      await uploadWithProgress(`/api/core/agents/${agentId}/documents`, body, key, setProgress);
      guard.succeeded();
      setFile(null);
      if (fileInput.current) fileInput.current.value = "";
      await queryClient.invalidateQueries({ queryKey: keys.documents(agentId) });
    } catch (e) {
      setError(e);
    } finally {
      setProgress(null);
    }
  }

  return (
    <form onSubmit={onSubmit} className="space-y-3" aria-label="Upload a document">
      <div className="grid gap-3 sm:grid-cols-[1fr_16rem_auto] sm:items-end">
        <FormField label="Document (PDF, DOCX, TXT, Markdown)">
          {(p) => (
            <Input
              {...p}
              ref={fileInput}
              type="file"
              accept=".pdf,.docx,.txt,.md,.markdown,text/plain,application/pdf"
              onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            />
          )}
        </FormField>
        <FormField label="Kind of document">
          {(p) => (
            <NativeSelect
              {...p}
              value={sourceType}
              onChange={(e) => setSourceType(e.target.value as Schemas["SourceType"])}
            >
              {SOURCE_TYPES.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </NativeSelect>
          )}
        </FormField>
        <Button type="submit" disabled={progress !== null}>
          {progress !== null ? "Uploading…" : "Upload"}
        </Button>
      </div>
      {progress !== null ? (
        <div className="flex items-center gap-3">
          <Progress value={progress} label="Upload progress" />
          <span className="w-12 text-right text-sm tabular-nums">{Math.round(progress)}%</span>
        </div>
      ) : null}
      <InlineError error={error} />
    </form>
  );
}
