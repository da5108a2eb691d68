import type { Metadata } from "next";

import { OrgMemory } from "@/components/OrgPages";

export const metadata: Metadata = { title: "Memory" };

export default async function Page({ params }: { params: Promise<{ orgId: string }> }) {
  const { orgId } = await params;
  return <OrgMemory orgId={orgId} />;
}
