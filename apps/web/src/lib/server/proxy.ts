import { NextResponse, type NextRequest } from "next/server";

import { csrfRefusal } from "./csrf";
import { services, type ServiceName } from "./services";
import { clearSessionCookie, SESSION_COOKIE } from "./session";

// Request headers passed on to a service; everything else (cookies above all) stays here.
// X-Forwarded-For ends with the address the browser connected from (server.mjs appends it):
// the services count failed sign-ins by client address, not by this server's.
const FORWARDED_REQUEST_HEADERS = [
  "accept",
  "content-type",
  "content-length",
  "idempotency-key",
  "last-event-id",
  "x-forwarded-for",
];
const FORWARDED_RESPONSE_HEADERS = [
  "content-type",
  "content-disposition",
  "content-length",
  "cache-control",
  "retry-after",
  "idempotent-replayed",
];

// The services' operator endpoints: they answer whoever reaches the service's port, so the
// public web server must not be the way to reach them.
const OPERATOR_PATHS = new Set(["metrics", "ready", "health"]);

/** Whether the path names a service's metrics, readiness or health endpoint. */
export function isOperatorPath(segments: string[]): boolean {
  const first = segments[0];
  return first !== undefined && OPERATOR_PATHS.has(first.toLowerCase());
}

/** Path segments must be plain names: no "..", no encoded slashes, so a caller cannot escape. */
export function servicePath(segments: string[]): string | null {
  for (const segment of segments) {
    if (segment === "" || segment === "." || segment === ".." || /[/\\?#]/.test(segment)) {
      return null;
    }
  }
  return "/" + segments.map(encodeURIComponent).join("/");
}

function jsonError(status: number, detail: string): NextResponse {
  return NextResponse.json({ detail }, { status });
}

/** Forward the request to a service with the session's bearer token; streams both ways. */
export async function proxy(
  request: NextRequest,
  service: ServiceName,
  segments: string[],
): Promise<NextResponse> {
  const refusal = csrfRefusal(request);
  if (refusal) return jsonError(403, refusal);
  const path = servicePath(segments);
  if (path === null) return jsonError(400, "invalid API path");
  if (isOperatorPath(segments)) return jsonError(404, "no such API path");

  const headers = new Headers();
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  const token = request.cookies.get(SESSION_COOKIE)?.value;
  if (token) headers.set("authorization", `Bearer ${token}`);

  const hasBody = !["GET", "HEAD"].includes(request.method);
  let upstream: Response;
  try {
    upstream = await fetch(services[service]() + path + request.nextUrl.search, {
      method: request.method,
      headers,
      body: hasBody ? request.body : undefined,
      // Streams the upload instead of buffering it (Node's fetch needs this for a stream body).
      ...(hasBody ? { duplex: "half" } : {}),
      redirect: "manual",
      cache: "no-store",
      signal: request.signal,
    } as RequestInit);
  } catch {
    return jsonError(502, `the ${service} service is not reachable; is it running?`);
  }

  const responseHeaders = new Headers();
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) responseHeaders.set(name, value);
  }
  if (upstream.headers.get("content-type")?.startsWith("text/event-stream")) {
    responseHeaders.set("cache-control", "no-cache, no-transform");
    responseHeaders.set("x-accel-buffering", "no");
  }
  const response = new NextResponse(upstream.body, {
    status: upstream.status,
    headers: responseHeaders,
  });
  // An expired or revoked token: drop it so the app sends the user to the login page.
  if (upstream.status === 401 && token) clearSessionCookie(response);
  return response;
}
