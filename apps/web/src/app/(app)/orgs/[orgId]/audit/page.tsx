import type { Metadata } from "next";

import { OrgAudit } from "@/components/AuditPage";

export const metadata: Metadata = { title: "Audit log" };

export default async function Page({ params }: { params: Promise<{ orgId: string }> }) {
  const { orgId } = await params;
  return <OrgAudit orgId={orgId} />;
}
