"""The web server under a huge request body, before and after its body cap (issue 17, item 3).

    python bench/web_body_limits.py            # 400 MB to /api/session/login, both ways
    python bench/web_body_limits.py --smoke    # 8 MB, seconds

Runs the production build behind two versions of ``apps/web/server.mjs``: the one before the
cap (taken from git, commit BEFORE) and the current one. For each, a fresh server gets one
body posted to the sign-in route, either with its Content-Length declared or chunked, and the
bench records the answer, the seconds until it came, how much of the body the client got to
send before the server stopped reading (socket buffers included), and the growth of the
server's peak resident memory (VmHWM) over its idle peak. No service runs behind it: what
the old server lets through ends as 502. Needs ``make web-build``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import smoke_argument  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "apps" / "web"
# The last commit whose server.mjs read bodies without a limit.
BEFORE = "2a0208a"
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


class Web:
    def __init__(self, script: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "NEXT_TELEMETRY_DISABLED": "1",
            "PHI_CORE_API_URL": f"http://127.0.0.1:{free_port()}",
        }
        self.proc = subprocess.Popen(
            ["node", str(script), "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(self.url + "/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"{script.name} did not start")
            time.sleep(0.2)
        # Load the route once, so that its first load is not counted as growth.
        httpx.post(self.url + "/api/session/login", json={}, headers={"Origin": self.url})

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def post(web: Web, size: int, chunked: bool, timeout: float) -> tuple[str, float, int]:
    """Send ``size`` bytes to the sign-in route; (answer, seconds to it, bytes sent)."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = (
        f"POST /api/session/login HTTP/1.1\r\nHost: 127.0.0.1:{web.port}\r\n"
        f"Origin: {web.url}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    ).encode()
    sent = [0]
    piece = b"x" * MB

    def send(s: socket.socket) -> None:
        try:
            while sent[0] < size:
                n = min(MB, size - sent[0])
                s.sendall((b"%x\r\n" % n + piece[:n] + b"\r\n") if chunked else piece[:n])
                sent[0] += n
            if chunked:
                s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server stopped reading

    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", web.port), timeout=timeout) as s:
        s.sendall(head)
        sender = threading.Thread(target=send, args=(s,), daemon=True)
        sender.start()
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
        seconds = time.monotonic() - started
        s.close()
        sender.join(timeout)
    answer = data.split(b"\r\n", 1)[0].split(b" ", 2)[1].decode() if data else "none"
    if answer == "none":
        answer = f"none in {timeout:.0f} s"
    return answer, seconds, sent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    smoke_argument(parser)
    args = parser.parse_args()
    if not (WEB / ".next" / "BUILD_ID").exists():
        raise SystemExit("the web app is not built: run `make web-build`")
    size = (8 if args.smoke else 400) * MB
    timeout = 30 if args.smoke else 120
    before = WEB / ".bench-server-before.mjs"  # beside the build, which it serves
    shown = subprocess.run(
        ["git", "show", f"{BEFORE}:apps/web/server.mjs"], cwd=ROOT, capture_output=True, text=True
    )
    if shown.returncode != 0:
        # A shallow clone (some CI checkouts) lacks the old server: the smoke run still
        # exercises today's server, the real bench needs the comparison.
        if not args.smoke:
            raise SystemExit(f"commit {BEFORE} is not in this clone: run `git fetch --unshallow`")
        print(f"commit {BEFORE} not in this clone: measuring today's server only")
    else:
        before.write_text(shown.stdout)
    servers = [("after", WEB / "server.mjs")]
    if before.exists():
        servers.insert(0, ("before", before))
    rows = []
    try:
        for label, script in servers:
            for chunked in (False, True):
                web = Web(script)
                try:
                    idle = peak_kb(web.proc.pid)
                    answer, seconds, sent = post(web, size, chunked, timeout)
                    time.sleep(0.5)
                    growth = (peak_kb(web.proc.pid) - idle) / 1024
                finally:
                    web.stop()
                rows.append(
                    (label, "chunked" if chunked else "declared", answer, seconds, sent, growth)
                )
    finally:
        before.unlink(missing_ok=True)
    print(f"{size // MB} MB posted to /api/session/login ({os.cpu_count()} cores)\n")
    print("| server.mjs | body | answer | seconds | client got to send | peak RSS growth |")
    print("|---|---|---|---:|---:|---:|")
    for label, kind, answer, seconds, sent, growth in rows:
        sent_mb = f"{sent / MB:.0f} MB"
        print(f"| {label} | {kind} | {answer} | {seconds:.2f} | {sent_mb} | {growth:.1f} MB |")


if __name__ == "__main__":
    main()
