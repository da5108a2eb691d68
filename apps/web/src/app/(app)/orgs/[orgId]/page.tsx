import type { Metadata } from "next";

import { OrgOverview } from "@/components/OrgPages";

export const metadata: Metadata = { title: "Organization" };

export default async function Page({ params }: { params: Promise<{ orgId: string }> }) {
  const { orgId } = await params;
  return <OrgOverview orgId={orgId} />;
}
