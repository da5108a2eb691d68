import type { Metadata } from "next";
import Link from "next/link";

import { AuthForm } from "@/components/AuthForm";
import { AuthLayout } from "@/components/AuthLayout";

export const metadata: Metadata = { title: "Sign up" };

export default function SignupPage() {
  return (
    <AuthLayout
      title="Create your account"
      description="Build virtual employees from your own job documents."
      footer={
        <>
          Already have an account?{" "}
          <Link className="underline" href="/login">
            Log in
          </Link>
        </>
      }
    >
      <AuthForm mode="signup" />
    </AuthLayout>
  );
}
