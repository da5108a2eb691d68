"use client";

import { useSearchParams } from "next/navigation";
import { useCallback } from "react";

/**
 * One query parameter of the page's URL as state, so a reload or a shared link keeps it
 * (the agent page's tab, the open task). Written with `history.replaceState`, which Next.js
 * keeps in step with `useSearchParams`: no navigation, no new history entry per click.
 */
export function useUrlParam(name: string): [string | null, (value: string | null) => void] {
  const params = useSearchParams();
  const set = useCallback(
    (value: string | null) => {
      const next = new URLSearchParams(window.location.search);
      if (value === null || value === "") next.delete(name);
      else next.set(name, value);
      const query = next.toString();
      window.history.replaceState(null, "", `${window.location.pathname}${query ? `?${query}` : ""}`);
    },
    [name],
  );
  return [params.get(name), set];
}
