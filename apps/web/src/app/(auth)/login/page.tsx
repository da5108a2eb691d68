import type { Metadata } from "next";
import Link from "next/link";

import { AuthForm } from "@/components/AuthForm";
import { AuthLayout } from "@/components/AuthLayout";

export const metadata: Metadata = { title: "Log in" };

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<{ next?: string }>;
}) {
  const { next } = await searchParams;
  return (
    <AuthLayout
      title="Log in"
      description="Welcome back. Log in to manage your agents."
      footer={
        <>
          No account yet?{" "}
          <Link className="underline" href="/signup">
            Sign up
          </Link>
        </>
      }
    >
      <AuthForm mode="login" next={next} />
    </AuthLayout>
  );
}
