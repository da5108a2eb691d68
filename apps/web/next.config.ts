import type { NextConfig } from "next";

const config: NextConfig = {
  // The browser only ever talks to this server; the API routes under /api proxy to the
  // services, so their ports stay internal and no CORS setup is needed.
  poweredByHeader: false,
  reactStrictMode: true,
  typedRoutes: false,
};

export default config;
