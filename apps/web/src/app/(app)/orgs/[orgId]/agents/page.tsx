import type { Metadata } from "next";

import { OrgAgents } from "@/components/OrgPages";

export const metadata: Metadata = { title: "Agents" };

export default async function Page({ params }: { params: Promise<{ orgId: string }> }) {
  const { orgId } = await params;
  return <OrgAgents orgId={orgId} />;
}
