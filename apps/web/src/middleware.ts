import { NextResponse, type NextRequest } from "next/server";

import { ownOrigin } from "@/lib/server/csrf";
import { SESSION_COOKIE } from "@/lib/server/session";

// Pages that need an account send a visitor without a session to the login page (the API
// still checks the token itself; this only spares a flash of an empty page).
export function middleware(request: NextRequest) {
  const signedIn = request.cookies.has(SESSION_COOKIE);
  const { pathname, search } = request.nextUrl;
  // Redirect on the host the browser used (Next's own URL may name another, e.g. localhost).
  const origin = ownOrigin(request);
  const authPage = pathname === "/login" || pathname === "/signup";
  if (!signedIn && !authPage) {
    const url = new URL("/login", origin);
    if (pathname !== "/") url.searchParams.set("next", pathname + search);
    return NextResponse.redirect(url);
  }
  if (signedIn && (authPage || pathname === "/")) {
    return NextResponse.redirect(new URL("/dashboard", origin));
  }
  return NextResponse.next();
}

export const config = {
  matcher: ["/((?!api/|_next/|favicon.ico).*)"],
};
