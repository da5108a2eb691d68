import type { NextResponse } from "next/server";

// The access token lives only in this httpOnly cookie: page scripts never see it, and the
// API routes add it as a bearer token when they call the services.
export const SESSION_COOKIE = "phi_session";

export function setSessionCookie(
  response: NextResponse,
  token: string,
  expiresInSeconds: number,
  secure: boolean,
): void {
  response.cookies.set({
    name: SESSION_COOKIE,
    value: token,
    httpOnly: true,
    sameSite: "strict",
    secure,
    path: "/",
    maxAge: Math.max(0, Math.floor(expiresInSeconds)),
  });
}

export function clearSessionCookie(response: NextResponse): void {
  response.cookies.set({
    name: SESSION_COOKIE,
    value: "",
    httpOnly: true,
    sameSite: "strict",
    path: "/",
    maxAge: 0,
  });
}
