// CSRF defence for the API routes. The session cookie is SameSite=Strict, so other sites'
// requests do not carry it; on top of that every state-changing request must come from this
// origin, judged by the Origin header (sent by every current browser on non-GET fetches) or,
// when it is missing, by Sec-Fetch-Site. A request with neither is refused.

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface RequestFacts {
  method: string;
  url: string;
  headers: Pick<Headers, "get">;
}

/** The origin the browser used to reach us (the Host header wins over the URL Next built). */
export function ownOrigin(request: RequestFacts): string {
  const url = new URL(request.url);
  const host = request.headers.get("x-forwarded-host") ?? request.headers.get("host") ?? url.host;
  const proto = request.headers.get("x-forwarded-proto") ?? url.protocol.replace(/:$/, "");
  return `${proto}://${host}`;
}

/** Null when the request may proceed, else the reason it is refused. */
export function csrfRefusal(request: RequestFacts): string | null {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return null;
  const origin = request.headers.get("origin");
  if (origin !== null) {
    return origin === ownOrigin(request) ? null : `cross-origin request from ${origin} refused`;
  }
  const site = request.headers.get("sec-fetch-site");
  if (site === "same-origin") return null;
  return "state-changing request without an Origin header refused";
}
