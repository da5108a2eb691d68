import type { NextRequest } from "next/server";

import { endSession } from "@/lib/server/auth-routes";

export const dynamic = "force-dynamic";
export function POST(request: NextRequest) {
  return endSession(request);
}
