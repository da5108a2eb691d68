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
const hostname = values.hostname;
const dir = path.dirname(fileURLToPath(import.meta.url));

/** The connecting address, IPv4 written plainly even on a dual-stack socket. */
function peerAddress(socket) {
  const address = socket.remoteAddress ?? "";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

const app = next({ dev: false, dir, hostname, port });
const handle = app.getRequestHandler();
await app.prepare();

const server = createServer((req, res) => {
  const claimed = req.headers["x-forwarded-for"];
  const peer = peerAddress(req.socket);
  req.headers["x-forwarded-for"] = claimed ? `${claimed}, ${peer}` : peer;
  handle(req, res);
});
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
