import type { NextRequest } from "next/server";

import { exchangeForSession } from "@/lib/server/auth-routes";

export const dynamic = "force-dynamic";
export function POST(request: NextRequest) {
  return exchangeForSession(request, "/auth/signup");
}
