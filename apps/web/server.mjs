// The web app's server: the production build served by Next.js behind Node's own HTTP server,
// so every request carries the address it really came from.
//
//   node server.mjs [--port 3000] [--hostname 127.0.0.1]    (npm start; make dev runs this)
//
// Every browser reaches core-api through this server, so core-api sees this server's address
// on every connection; its limit on failed sign-ins per client address would be one limit
// shared by every user. The API routes therefore pass X-Forwarded-For on, and core-api
// believes it from the addresses in PHI_TRUSTED_PROXIES. `next start` cannot be used for that:
// it sets X-Forwarded-For to the connecting address only when the request has none, so a
// client that writes its own would choose the address core-api counts. Here the connecting
// address is always appended, as nginx's $proxy_add_x_forwarded_for does: the last entry is
// the one this server saw, entries before it are what the client (or a proxy in front of
// this server) claimed, and core-api skips those unless their sender is a trusted proxy.
//
// It also bounds what a client can make it hold. Next.js reads request bodies whole and
// without a limit (400 MB posted to /api/session/login grew this process by 1.1 GB; sent
// chunked, it never answered), so every body is capped here before Next.js sees it:
// PHI_MAX_REQUEST_BYTES (1 MB) on every route, the upload limit (PHI_MAX_UPLOAD_BYTES plus
// 1 MB of form framing) on uploads. A declared Content-Length over the cap gets 413 without
// reading anything; a body without one is counted as it arrives and cut at the cap with 413.
// A request still arriving after PHI_WEB_REQUEST_TIMEOUT_SECONDS (120) gets 408.
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import next from "next";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: process.env.PHI_WEB_PORT ?? process.env.PORT ?? "3000" },
    // Not $HOSTNAME: shells and containers export it with the machine's name, which would
    // quietly open the server to the network.
    hostname: { type: "string", default: "127.0.0.1" },
  },
});
const port = Number(values.port);
const MB = 1024 * 1024;

function positiveInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`${name} must be a positive whole number, not ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

const maxRequestBytes = positiveInt("PHI_MAX_REQUEST_BYTES", MB);
const maxUploadBytes = positiveInt("PHI_MAX_UPLOAD_BYTES", 25 * MB) + MB;
const requestTimeoutMs = positiveInt("PHI_WEB_REQUEST_TIMEOUT_SECONDS", 120) * 1000;
const hostname = values.hostname;
const dir = path.dirname(fileURLToPath(import.meta.url));

/** The connecting address, IPv4 written plainly even on a dual-stack socket. */
function peerAddress(socket) {
  const address = socket.remoteAddress ?? "";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

/** The body cap of a request: uploads (POST .../documents through the API proxy) get theirs. */
function bodyLimit(method, url) {
  const pathname = (url ?? "").split("?", 1)[0].replace(/\/+$/, "");
  const upload = method === "POST" && /^\/api\/core\/.+\/documents$/.test(pathname);
  return upload ? maxUploadBytes : maxRequestBytes;
}

function shown(bytes) {
  return bytes % MB === 0 ? `${bytes / MB} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

function refuseTooLarge(res, limit) {
  const detail = `the request body is larger than the limit of ${shown(limit)}`;
  const body = JSON.stringify({ detail });
  res.writeHead(413, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    // The rest of the body is never read: the connection cannot carry another request.
    connection: "close",
  });
  res.end(body);
}

/**
 * Counts the body as Node's HTTP parser hands it to the request stream (`push` is where
 * the parser delivers each chunk, whoever reads the stream later), so nothing past `limit`
 * is ever buffered. Past it: 413 if nothing was answered yet, then the request is ended
 * with an error so whatever was reading it stops and lets go of what it read.
 */
function capBody(req, res, limit) {
  let received = 0;
  const push = req.push;
  req.push = function countedPush(chunk, encoding) {
    if (chunk !== null && chunk !== undefined) {
      received += chunk.length;
      if (received > limit) {
        req.push = () => false;
        req.socket.pause();
        const abort = () => req.destroy(new Error("request body over the limit"));
        if (res.headersSent) {
          abort();
        } else {
          refuseTooLarge(res, limit);
          res.once("finish", abort);
        }
        return false;
      }
    }
    return push.call(req, chunk, encoding);
  };
  // Answered before the body was read (a refused Origin, a service's 401): Node then reads
  // and drops the rest to keep the connection, which bypasses `push`; past the cap it is
  // not worth keeping.
  res.once("finish", () => {
    if (req.complete || req.destroyed) return;
    const socket = req.socket;
    const dropped = (data) => {
      received += data.length;
      if (received > limit) socket.destroy();
    };
    socket.on("data", dropped);
    req.once("end", () => socket.off("data", dropped));
  });
}

const app = next({ dev: false, dir, hostname, port });
const handle = app.getRequestHandler();
await app.prepare();

const server = createServer(
  {
    // Node answers 408 and closes the connection when a request (headers and body) has not
    // fully arrived in time; it looks every second, so the answer comes close to the limit.
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(60_000, requestTimeoutMs),
    connectionsCheckingInterval: 1000,
  },
  (req, res) => {
    const limit = bodyLimit(req.method, req.url);
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > limit) {
      refuseTooLarge(res, limit);
      return;
    }
    capBody(req, res, limit);
    const claimed = req.headers["x-forwarded-for"];
    const peer = peerAddress(req.socket);
    req.headers["x-forwarded-for"] = claimed ? `${claimed}, ${peer}` : peer;
    handle(req, res);
  },
);
// Next.js handles uncaught exceptions itself and the process would end with code 0: whoever
// started it (make dev's supervisor, a script) must learn that the web app is not serving.
server.on("error", (error) => {
  const why = error.code === "EADDRINUSE" ? "the port is already in use" : error.message;
  console.error(
    `web app: cannot listen on ${hostname}:${port}: ${why}; choose another with --port or PHI_WEB_PORT`,
  );
  process.exit(1);
});
server.listen(port, hostname, () => {
  console.log(`web app ready on http://${hostname}:${port}`);
});
