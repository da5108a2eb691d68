"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";

import { FormField } from "@/components/form-field";
import { InlineError } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { core, unwrap, type Schemas } from "@/lib/api/client";
import { ApiError } from "@/lib/api/errors";
import { keys } from "@/lib/api/queries";

function Rename({ org }: { org: Schemas["OrgOut"] }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(org.name);
  useEffect(() => setName(org.name), [org.name]);
  const rename = useMutation({
    mutationFn: () =>
      unwrap(core.PATCH("/orgs/{org_id}", { params: { path: { org_id: org.id } }, body: { name: name.trim() } })),
    onSuccess: (updated) => {
      queryClient.setQueryData(keys.org(org.id), updated);
      return queryClient.invalidateQueries({ queryKey: keys.orgs, exact: true });
    },
  });
  const fieldError = rename.error instanceof ApiError ? rename.error.fields.name : undefined;
  return (
    <form
      className="flex flex-wrap items-end gap-3"
      onSubmit={(e) => {
        e.preventDefault();
        if (!rename.isPending) rename.mutate();
      }}
    >
      <div className="min-w-60 flex-1">
        <FormField label="Organization name" error={fieldError}>
          {(p) => <Input {...p} value={name} onChange={(e) => setName(e.target.value)} required />}
        </FormField>
      </div>
      <Button type="submit" variant="outline" disabled={rename.isPending || !name.trim() || name.trim() === org.name}>
        {rename.isPending ? "Renaming…" : "Rename"}
      </Button>
      {!fieldError ? <InlineError error={rename.error} /> : null}
    </form>
  );
}

function Delete({ org }: { org: Schemas["OrgOut"] }) {
  const queryClient = useQueryClient();
  const router = useRouter();
  const [confirming, setConfirming] = useState(false);
  const [typed, setTyped] = useState("");
  const remove = useMutation({
    mutationFn: () => unwrap(core.DELETE("/orgs/{org_id}", { params: { path: { org_id: org.id } } })),
    onSuccess: async () => {
      queryClient.removeQueries({ queryKey: keys.org(org.id) });
      await queryClient.invalidateQueries({ queryKey: keys.orgs, exact: true });
      await queryClient.invalidateQueries({ queryKey: keys.me });
      router.push("/dashboard");
    },
  });
  if (!confirming) {
    return (
      <Button variant="destructive" onClick={() => setConfirming(true)}>
        Delete organization…
      </Button>
    );
  }
  return (
    <div className="space-y-3 rounded-md border border-destructive/40 p-4" role="group" aria-label="Confirm deleting the organization">
      <p className="text-sm">
        This deletes <strong>{org.name}</strong> with all its agents, documents, tasks, keys and
        members&apos; access. It cannot be undone.
      </p>
      <div className="max-w-sm">
        <FormField label="Type the organization's name to confirm">
          {(p) => <Input {...p} value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />}
        </FormField>
      </div>
      <div className="flex gap-2">
        <Button
          variant="destructive"
          disabled={typed !== org.name || remove.isPending}
          onClick={() => {
            if (!remove.isPending) remove.mutate();
          }}
        >
          {remove.isPending ? "Deleting…" : "Delete permanently"}
        </Button>
        <Button variant="outline" onClick={() => setConfirming(false)} disabled={remove.isPending}>
          Keep it
        </Button>
      </div>
      <InlineError error={remove.error} />
    </div>
  );
}

/** Rename (OWNER/ADMIN) and delete (OWNER) the organization. */
export function OrgSettingsCard({ org }: { org: Schemas["OrgOut"] }) {
  if (org.my_role !== "OWNER" && org.my_role !== "ADMIN") return null;
  return (
    <Card>
      <CardHeader>
        <CardTitle>Settings</CardTitle>
        <CardDescription>
          {org.my_role === "OWNER"
            ? "Rename the organization, or delete it."
            : "Rename the organization (only an OWNER can delete it)."}
        </CardDescription>
      </CardHeader>
      <CardContent className="space-y-6">
        <Rename org={org} />
        {org.my_role === "OWNER" ? <Delete org={org} /> : null}
      </CardContent>
    </Card>
  );
}
