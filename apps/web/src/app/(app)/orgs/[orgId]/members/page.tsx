import type { Metadata } from "next";

import { OrgMembers } from "@/components/OrgPages";

export const metadata: Metadata = { title: "Members" };

export default async function Page({ params }: { params: Promise<{ orgId: string }> }) {
  const { orgId } = await params;
  return <OrgMembers orgId={orgId} />;
}
