"use client";

import { useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useState } from "react";

import { Button } from "@/components/ui/button";
import { sessionRequest, signingOutNow } from "@/lib/api/client";
import { useMe } from "@/lib/api/queries";
import { cn } from "@/lib/utils";

function NavLink({ href, children }: { href: string; children: React.ReactNode }) {
  const pathname = usePathname();
  const active = pathname === href || pathname.startsWith(href + "/");
  return (
    <Link
      href={href}
      aria-current={active ? "page" : undefined}
      className={cn(
        "rounded-md px-3 py-1.5 text-sm font-medium text-muted-foreground hover:bg-accent hover:text-foreground",
        active && "bg-accent text-foreground",
      )}
    >
      {children}
    </Link>
  );
}

export function DashboardLayout({ children }: { children: React.ReactNode }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [leaving, setLeaving] = useState(false);

  async function logOut() {
    setLeaving(true);
    // The queries on screen get 401s from here on: not a reason to go anywhere else.
    signingOutNow();
    await sessionRequest("/api/session/logout", {}).catch(() => undefined);
    queryClient.clear();
    // A full load, so nothing of the signed-out account stays in the page.
    window.location.replace("/login");
  }

  return (
    <div className="min-h-screen bg-muted/30">
      <header className="border-b bg-background">
        <div className="mx-auto flex h-14 max-w-6xl items-center gap-4 px-4">
          <Link href="/dashboard" className="font-bold tracking-tight">
            Φ Phi Agents
          </Link>
          <nav aria-label="Main" className="flex items-center gap-1">
            <NavLink href="/dashboard">Dashboard</NavLink>
            {me.data?.is_platform_admin ? <NavLink href="/admin">Admin</NavLink> : null}
          </nav>
          <div className="ml-auto flex items-center gap-3">
            <span className="hidden text-sm text-muted-foreground sm:inline" data-testid="me-email">
              {me.data?.email ?? ""}
            </span>
            <Button variant="outline" size="sm" onClick={logOut} disabled={leaving}>
              Log out
            </Button>
          </div>
        </div>
      </header>
      <main id="main" className="mx-auto max-w-6xl px-4 py-8">
        {children}
      </main>
    </div>
  );
}

export function PageHeader({
  title,
  description,
  actions,
  crumbs,
}: {
  title: string;
  description?: React.ReactNode;
  actions?: React.ReactNode;
  crumbs?: { href: string; label: string }[];
}) {
  return (
    <div className="mb-6 space-y-2">
      {crumbs?.length ? (
        <nav aria-label="Breadcrumb" className="text-sm text-muted-foreground">
          {crumbs.map((c, i) => (
            <span key={c.href}>
              {i > 0 ? " / " : null}
              <Link className="hover:underline" href={c.href}>
                {c.label}
              </Link>
            </span>
          ))}
        </nav>
      ) : null}
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div>
          <h1 className="text-2xl font-semibold tracking-tight">{title}</h1>
          {description ? <p className="text-muted-foreground">{description}</p> : null}
        </div>
        {actions ? <div className="flex gap-2">{actions}</div> : null}
      </div>
    </div>
  );
}
