# The web app: the production build of apps/web behind its own server (server.mjs), which
# reaches the services server-side at PHI_CORE_API_URL and PHI_ORCHESTRATOR_URL.
# Build from the repository root:  podman build -f deploy/web.Dockerfile -t phi-web .
# BASE: any image with Node.js 20+ (default the official slim one).
ARG BASE=node:20-slim

FROM ${BASE} AS build
ENV NEXT_TELEMETRY_DISABLED=1
WORKDIR /web
COPY apps/web/package.json apps/web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY apps/web/ ./
# What the server needs, gathered in one folder so that the final image gets it in one layer.
# next.config.ts goes in as plain JavaScript: Next.js loads its configuration again when the
# server starts, and a .ts one would need TypeScript (a development dependency, pruned here).
RUN npx --no-install next build && mkdir /out \
    && node -e 'const ts = require("typescript"), fs = require("fs"); \
        const js = ts.transpileModule(fs.readFileSync("next.config.ts", "utf8"), {compilerOptions: \
            {module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022}}).outputText; \
        fs.writeFileSync("/out/next.config.mjs", js)' \
    && npm prune --omit=dev --no-audit --no-fund \
    && cp -a package.json server.mjs node_modules .next /out/

FROM ${BASE}
# glibc's malloc as make dev sets it (scripts/dev/run.py, WEB_MALLOC): big buffers mapped on
# their own and given back when freed, two arenas (docs/benchmarks.md, issue 24).
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 PHI_WEB_PORT=3000 \
    MALLOC_MMAP_THRESHOLD_=65536 MALLOC_ARENA_MAX=2
WORKDIR /web
COPY --from=build /out/ ./
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PHI_WEB_PORT+'/').then(r=>process.exit(r.status<500?0:1),()=>process.exit(1))"]
CMD ["node", "server.mjs", "--hostname", "0.0.0.0"]
