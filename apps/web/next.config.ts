import type { NextConfig } from "next";

const config: NextConfig = {
  // The browser only ever talks to this server; the API routes under /api proxy to the
  // services, so their ports stay internal and no CORS setup is needed.
  poweredByHeader: false,
  reactStrictMode: true,
  typedRoutes: false,
  // Next.js otherwise passes a middleware redirect's URL through its own URL type, which writes
  // 127.0.0.1 as localhost: a page opened on 127.0.0.1 was redirected to another origin.
  // Redirects keep the origin the browser used (src/middleware.ts builds it from the Host).
  skipMiddlewareUrlNormalize: true,
};

export default config;
