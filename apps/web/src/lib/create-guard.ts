"use client";

import { useState } from "react";

/** A fresh Idempotency-Key (random UUID; `crypto.randomUUID` needs a secure context). */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * One create per intent, for the create forms. A double click sends twice before the button
 * can turn disabled (TanStack Query tells React a mutation is pending a tick later), so:
 * `once` ignores a send while one is under way, and `keyFor` gives every send of the same
 * body the same Idempotency-Key until a create succeeds (`succeeded`), so the API creates
 * once even when two sends get through (two tabs, a retry after a lost answer). A changed body
 * gets a new key: the API refuses one key for two different requests.
 */
export class CreateGuard {
  private busy = false;
  private keys = new Map<string, string>();

  keyFor(body: unknown): string {
    const id = JSON.stringify(body);
    let key = this.keys.get(id);
    if (key === undefined) {
      key = newIdempotencyKey();
      this.keys.set(id, key);
    }
    return key;
  }

  succeeded(): void {
    this.keys.clear();
  }

  /** Runs `send` unless a send is under way; its failure is the mutation's to show. */
  once(send: () => Promise<unknown>): void {
    if (this.busy) return;
    this.busy = true;
    send()
      .catch(() => undefined)
      .finally(() => {
        this.busy = false;
      });
  }
}

export function useCreateGuard(): CreateGuard {
  const [guard] = useState(() => new CreateGuard());
  return guard;
}
