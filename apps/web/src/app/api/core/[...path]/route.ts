import type { NextRequest } from "next/server";

import { proxy } from "@/lib/server/proxy";

type Context = { params: Promise<{ path: string[] }> };

async function handle(request: NextRequest, context: Context) {
  return proxy(request, "core", (await context.params).path);
}

export const dynamic = "force-dynamic";
export { handle as GET, handle as POST, handle as PATCH, handle as PUT, handle as DELETE };
