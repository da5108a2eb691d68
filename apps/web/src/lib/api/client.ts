import createClient from "openapi-fetch";

import { toApiError } from "./errors";
import type { components, paths } from "./generated/core";
import type {
  components as orchestratorComponents,
  paths as orchestratorPaths,
} from "./generated/orchestrator";

export type Schemas = components["schemas"];
export type OrchestratorSchemas = orchestratorComponents["schemas"];

// Every call goes to this app's own /api routes, which add the session and forward it.
export const core = createClient<paths>({ baseUrl: "/api/core" });
export const orchestrator = createClient<orchestratorPaths>({ baseUrl: "/api/orchestrator" });

/** The data of an openapi-fetch result, or its error thrown as an ApiError. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) {
    if (response.status === 401 && typeof window !== "undefined") {
      // The session expired: start again from the login page, back to where we were.
      const next = encodeURIComponent(window.location.pathname + window.location.search);
      window.location.assign(`/login?next=${next}`);
    }
    throw toApiError(response.status, error);
  }
  return data as T;
}

export async function sessionRequest<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) throw toApiError(response.status, data);
  return data as T;
}
