import { cn } from "@/lib/utils";

// A native <progress> styled like shadcn's bar: the browser reports its value to screen readers.
export function Progress({
  value,
  label,
  className,
}: {
  value: number;
  label: string;
  className?: string;
}) {
  return (
    <progress
      aria-label={label}
      max={100}
      value={Math.round(value)}
      className={cn(
        "h-2 w-full overflow-hidden rounded-full [&::-webkit-progress-bar]:bg-secondary [&::-webkit-progress-value]:bg-primary [&::-moz-progress-bar]:bg-primary",
        className,
      )}
    />
  );
}
