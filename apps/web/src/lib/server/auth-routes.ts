import { NextResponse, type NextRequest } from "next/server";

import { csrfRefusal } from "./csrf";
import { services } from "./services";
import { clearSessionCookie, setSessionCookie } from "./session";

/**
 * Sign-up and log-in: pass the form to core-api and, on success, keep the access token in
 * the httpOnly cookie. The browser gets the user back without the token.
 */
export async function exchangeForSession(
  request: NextRequest,
  path: "/auth/login" | "/auth/signup",
): Promise<NextResponse> {
  const refusal = csrfRefusal(request);
  if (refusal) return NextResponse.json({ detail: refusal }, { status: 403 });
  let upstream: Response;
  try {
    const headers = new Headers({ "content-type": "application/json" });
    // core-api limits failed sign-ins per client address: it must see the browser's address
    // (server.mjs appends it to X-Forwarded-For), not this server's, which all users share.
    const forwardedFor = request.headers.get("x-forwarded-for");
    if (forwardedFor !== null) headers.set("x-forwarded-for", forwardedFor);
    upstream = await fetch(services.core() + path, {
      method: "POST",
      headers,
      body: await request.text(),
      cache: "no-store",
    });
  } catch {
    return NextResponse.json(
      { detail: "the core API is not reachable; is it running?" },
      { status: 502 },
    );
  }
  const body = (await upstream.json().catch(() => ({}))) as Record<string, unknown>;
  if (!upstream.ok) return NextResponse.json(body, { status: upstream.status });
  const { access_token: token, expires_in: expiresIn, token_type: _type, ...user } = body;
  if (typeof token !== "string" || typeof expiresIn !== "number") {
    return NextResponse.json({ detail: "the core API sent no token" }, { status: 502 });
  }
  const response = NextResponse.json(user, { status: upstream.status });
  setSessionCookie(response, token, expiresIn, request.nextUrl.protocol === "https:");
  return response;
}

export function endSession(request: NextRequest): NextResponse {
  const refusal = csrfRefusal(request);
  if (refusal) return NextResponse.json({ detail: refusal }, { status: 403 });
  const response = new NextResponse(null, { status: 204 });
  clearSessionCookie(response);
  return response;
}
