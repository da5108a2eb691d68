import type { Metadata } from "next";

import { AgentPage } from "@/components/AgentPage";

export const metadata: Metadata = { title: "Agent" };

export default async function Page({
  params,
  searchParams,
}: {
  params: Promise<{ agentId: string }>;
  searchParams: Promise<{ tab?: string; task?: string }>;
}) {
  const { agentId } = await params;
  const { tab, task } = await searchParams;
  return <AgentPage agentId={agentId} tab={tab} task={task} />;
}
