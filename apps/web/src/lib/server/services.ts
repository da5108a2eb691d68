// Where the services listen, as seen from this Next.js server (never from the browser).
function serviceUrl(urlVar: string, portVar: string, defaultPort: number): string {
  const explicit = process.env[urlVar];
  if (explicit) return explicit.replace(/\/+$/, "");
  return `http://127.0.0.1:${process.env[portVar] ?? defaultPort}`;
}

export const services = {
  core: () => serviceUrl("PHI_CORE_API_URL", "PHI_CORE_API_PORT", 8000),
  orchestrator: () => serviceUrl("PHI_ORCHESTRATOR_URL", "PHI_ORCHESTRATOR_PORT", 8001),
} as const;

export type ServiceName = keyof typeof services;
