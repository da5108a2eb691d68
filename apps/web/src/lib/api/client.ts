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

// The pages a 401 never sends away from: signing in is what they are for.
const SIGN_IN_PAGES = new Set(["/login", "/signup"]);
let signingOut = false;

/** Called as the user logs out: the queries still on screen get 401s from then on, which
 * is the point, not an expired session. Logging out ends with a full page load, which
 * starts this module afresh. */
export function signingOutNow(): void {
  signingOut = true;
}

/** Where a 401 sends the browser: the login page, with the way back to where it was. None
 * while logging out (the log-out goes to the login page itself; a second navigation would
 * race it), nor from a sign-in page (it would send it to itself). */
export function loginRedirect(location: { pathname: string; search: string }): string | null {
  if (signingOut || SIGN_IN_PAGES.has(location.pathname)) return null;
  return `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
}

/** The data of an openapi-fetch result, or its error thrown as an ApiError. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) {
    if (response.status === 401 && typeof window !== "undefined") {
      // The session expired: start again from the login page, back to where we were.
      const target = loginRedirect(window.location);
      if (target) window.location.assign(target);
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
