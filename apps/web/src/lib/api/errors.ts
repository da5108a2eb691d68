// Turns the services' error bodies into one message plus per-field messages, so a form can
// show each error next to the input that caused it.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

interface ValidationItem {
  loc?: unknown[];
  msg?: unknown;
}

/** FastAPI bodies: {"detail": "text"} or {"detail": [{"loc": ["body", "email"], "msg": ...}]}. */
export function toApiError(status: number, body: unknown): ApiError {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (typeof detail === "string") return new ApiError(status, detail);
  if (Array.isArray(detail)) {
    const fields: Record<string, string> = {};
    const messages: string[] = [];
    for (const item of detail as ValidationItem[]) {
      const msg = typeof item.msg === "string" ? item.msg.replace(/^Value error, /, "") : "invalid";
      const loc = (item.loc ?? []).filter((p) => p !== "body" && p !== "query" && p !== "path");
      const field = loc.map(String).join(".");
      if (field && !(field in fields)) fields[field] = msg;
      messages.push(field ? `${field}: ${msg}` : msg);
    }
    return new ApiError(status, messages.join("; ") || "invalid request", fields);
  }
  if (status === 502 || status === 503) {
    return new ApiError(status, "the service is unavailable; try again in a moment");
  }
  return new ApiError(status, `request failed (HTTP ${status})`);
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return "something went wrong";
}
