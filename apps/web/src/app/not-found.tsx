import Link from "next/link";

export default function NotFound() {
  return (
    <main className="mx-auto max-w-md p-10 text-center">
      <h1 className="text-2xl font-semibold">Not found</h1>
      <p className="mt-2 text-muted-foreground">This page does not exist, or you cannot see it.</p>
      <Link className="mt-4 inline-block underline" href="/dashboard">
        Back to the dashboard
      </Link>
    </main>
  );
}
