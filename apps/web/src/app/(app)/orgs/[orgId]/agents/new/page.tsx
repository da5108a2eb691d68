import type { Metadata } from "next";

import { AgentForm } from "@/components/AgentForm";

export const metadata: Metadata = { title: "New agent" };

export default async function Page({ params }: { params: Promise<{ orgId: string }> }) {
  const { orgId } = await params;
  return <AgentForm orgId={orgId} />;
}
