"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";

import { FormField } from "@/components/form-field";
import { InlineError } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { sessionRequest } from "@/lib/api/client";
import { ApiError } from "@/lib/api/errors";

/** Only same-site paths are followed after signing in (no open redirect). */
export function safeNext(next: string | undefined): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/dashboard";
}

export function AuthForm({ mode, next }: { mode: "login" | "signup"; next?: string }) {
  const router = useRouter();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const fields = error instanceof ApiError ? error.fields : {};

  async function onSubmit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body: Record<string, string> = {
      email: String(form.get("email") ?? ""),
      password: String(form.get("password") ?? ""),
    };
    if (mode === "signup" && form.get("name")) body.name = String(form.get("name"));
    setPending(true);
    setError(null);
    try {
      await sessionRequest(`/api/session/${mode}`, body);
      router.replace(safeNext(next));
      router.refresh();
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
      setPending(false);
    }
  }

  const formError = error && Object.keys(fields).length === 0 ? error : null;
  return (
    <form onSubmit={onSubmit} className="space-y-4" noValidate>
      {mode === "signup" ? (
        <FormField label="Name" error={fields.name}>
          {(p) => <Input {...p} name="name" autoComplete="name" />}
        </FormField>
      ) : null}
      <FormField label="Email" error={fields.email}>
        {(p) => <Input {...p} name="email" type="email" autoComplete="email" required />}
      </FormField>
      <FormField
        label="Password"
        error={fields.password}
        hint={mode === "signup" ? "At least 8 characters." : undefined}
      >
        {(p) => (
          <Input
            {...p}
            name="password"
            type="password"
            autoComplete={mode === "signup" ? "new-password" : "current-password"}
            required
          />
        )}
      </FormField>
      <InlineError error={formError} />
      <Button type="submit" className="w-full" disabled={pending}>
        {pending ? "Please wait…" : mode === "signup" ? "Create account" : "Log in"}
      </Button>
    </form>
  );
}
