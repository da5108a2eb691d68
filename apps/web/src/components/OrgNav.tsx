"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

import { cn } from "@/lib/utils";

export function OrgNav({ orgId }: { orgId: string }) {
  const pathname = usePathname();
  const items = [
    { href: `/orgs/${orgId}`, label: "Overview" },
    { href: `/orgs/${orgId}/agents`, label: "Agents" },
    { href: `/orgs/${orgId}/members`, label: "Members" },
    { href: `/orgs/${orgId}/memory`, label: "Memory" },
    { href: `/orgs/${orgId}/audit`, label: "Audit log" },
  ];
  return (
    <nav aria-label="Organization" className="mb-6 flex gap-1 border-b">
      {items.map((item) => {
        const active =
          item.href === `/orgs/${orgId}` ? pathname === item.href : pathname.startsWith(item.href);
        return (
          <Link
            key={item.href}
            href={item.href}
            aria-current={active ? "page" : undefined}
            className={cn(
              "-mb-px border-b-2 border-transparent px-3 py-2 text-sm font-medium text-muted-foreground hover:text-foreground",
              active && "border-primary text-foreground",
            )}
          >
            {item.label}
          </Link>
        );
      })}
    </nav>
  );
}
