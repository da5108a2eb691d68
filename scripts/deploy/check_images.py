"""`make test-deploy`: the platform's images built and run as containers with podman, and the
README walk-through (sign up -> upload -> READY -> report through a local agent) run against
them. Not part of `make test`: it builds images (many minutes on two cores).

This machine can pull no registry image, so the base is built locally: a minimal Debian
(`debootstrap` from the Debian mirror, with python3) imported with `podman import` and passed
as the images' BASE. Third-party services (PostgreSQL, the S3 store) are not images here
either: the test runs the embedded PostgreSQL and moto's S3 server on the host, and the
containers reach them over the host network (`--network=host`), each service on its own
port: migrations (the compose file's `migrate` job), two core-api replicas, a core-api worker,
an orchestrator and its worker, all in multi-host mode with documents in the bucket.

podman is run the way that works on this kind of machine: `--storage-driver=vfs`, builds with
`--isolation=chroot`, containers with `--runtime runc`, and `default_ulimits = []` in a
containers.conf (crun cannot set the rlimits here).

    .venv/bin/python scripts/deploy/check_images.py [--keep] [--python-base IMAGE]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".phi" / "deploy"
BASE_TAG = "localhost/phi-base-python:bookworm"
MIRROR = os.environ.get("PHI_DEBIAN_MIRROR", "http://deb.debian.org/debian")
TARGETS = ("core-api", "orchestrator")


def log(message: str) -> None:
    print(f"[test-deploy] {time.strftime('%H:%M:%S')} {message}", flush=True)


def run(*argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    log("$ " + " ".join(argv))
    return subprocess.run(argv, check=True, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def podman(*args: str) -> list[str]:
    return ["podman", "--storage-driver=vfs", *args]


def containers_conf() -> None:
    conf = WORK / "containers.conf"
    conf.write_text("[containers]\ndefault_ulimits = []\n")
    os.environ["CONTAINERS_CONF"] = str(conf)


def local_base() -> str:
    """A Debian bookworm image with python3 and venv, made here (no registry needed)."""
    have = subprocess.run(podman("image", "exists", BASE_TAG))
    if have.returncode == 0:
        return BASE_TAG
    rootfs = WORK / "rootfs-python"
    if not (rootfs / "usr" / "bin" / "python3").exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        run(
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            "bookworm",
            str(rootfs),
            MIRROR,
        )
    trust_this_machine(rootfs)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    run(*podman("import", "-", BASE_TAG), stdin=tar.stdout)
    tar.wait()
    return BASE_TAG


def trust_this_machine(rootfs: Path) -> None:
    """Give the local base this machine's extra certificate authorities (and tell pip to use
    the system store), so that the image build reaches the package index the way this
    machine does (through its egress proxy). A base from a registry needs none of this."""
    extra = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    if not extra:
        return
    target = rootfs / "usr/local/share/ca-certificates"
    target.mkdir(parents=True, exist_ok=True)
    for cert in extra:
        shutil.copy(cert, target / cert.name)
    run("chroot", str(rootfs), "update-ca-certificates")
    (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")


def build(base: str) -> None:
    for target in TARGETS:
        run(
            *podman(
                "build",
                "--isolation=chroot",
                "--network=host",
                "--build-arg",
                f"BASE={base}",
                "--target",
                target,
                "-f",
                "deploy/Dockerfile",
                "-t",
                f"localhost/phi-{target}:test",
                ".",
            ),
            cwd=ROOT,
        )


def free_port() -> int:
    from phi_platform.embedded_pg import free_port as port

    return port()


def wait_ready(url: str, name: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/ready", timeout=3).status_code == 200:
                log(f"{name} ready at {url}")
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} did not become ready at {url}")
        time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python-base", default=os.environ.get("PHI_PYTHON_BASE"))
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--no-build", action="store_true", help="use the images built last time")
    args = parser.parse_args()
    if shutil.which("podman") is None:
        raise SystemExit("podman is not installed: apt-get install podman runc")
    WORK.mkdir(parents=True, exist_ok=True)
    containers_conf()
    if not args.no_build:
        build(args.python_base or local_base())
    if args.build_only:
        return 0

    from phi_platform.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(root=WORK / "pg", port=free_port(), host="127.0.0.1")
    pg.start()
    database = pg.ensure_database("phi").replace("postgresql+psycopg://", "postgresql://")
    s3_port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    names: list[str] = []
    try:
        s3_env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "phi",
            "AWS_SECRET_ACCESS_KEY": "phi-secret",
        }
        time.sleep(3)
        import boto3

        boto3.client(
            "s3",
            endpoint_url=s3_env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="phi",
            aws_secret_access_key="phi-secret",
        ).create_bucket(Bucket="phi-documents")
        ports = {name: free_port() for name in ("core-1", "core-2", "orch", "w1", "w2")}
        shared = {
            **s3_env,
            "PHI_MULTI_HOST": "1",
            "DATABASE_URL": database,
            "PHI_JWT_SECRET": secrets.token_urlsafe(48),
            "PHI_SECRETS_KEY": secrets.token_urlsafe(32),
            "PHI_STORAGE_URL": "s3://phi-documents/documents",
            "PHI_LLM_ROUTES": "heavy=builtin;light=builtin",
            "PHI_ORCHESTRATOR_URL": f"http://127.0.0.1:{ports['orch']}",
        }

        def container(
            name: str, image: str, env: dict[str, str], *cmd: str, detach: bool = True
        ) -> None:
            argv = podman(
                "--runtime", "runc", "run", "--network=host", "--name", f"phi-test-{name}"
            )
            argv += ["-d"] if detach else ["--rm"]
            for key, value in {**shared, **env}.items():
                argv += ["-e", f"{key}={value}"]
            run(*argv, image, *cmd)
            if detach:
                names.append(f"phi-test-{name}")

        core, orch = "localhost/phi-core-api:test", "localhost/phi-orchestrator:test"
        container("migrate", core, {}, "phi-db", "migrate", detach=False)
        container("core-1", core, {"PHI_CORE_API_PORT": str(ports["core-1"])})
        container("core-2", core, {"PHI_CORE_API_PORT": str(ports["core-2"])})
        container("worker", core, {"PHI_WORKER_METRICS_PORT": str(ports["w1"])}, "phi-worker")
        container("orch", orch, {"PHI_ORCHESTRATOR_PORT": str(ports["orch"])})
        container(
            "orch-worker",
            orch,
            {"PHI_WORKER_METRICS_PORT": str(ports["w2"])},
            "phi-orchestrator-worker",
        )
        for name in ("core-1", "core-2", "orch", "w1", "w2"):
            wait_ready(f"http://127.0.0.1:{ports[name]}", name)
        # The README walk-through against the containers (scripts/demo/run.py uses a stack
        # already running on these ports).
        env = {
            **os.environ,
            "PHI_CORE_API_PORT": str(ports["core-1"]),
            "PHI_ORCHESTRATOR_PORT": str(ports["orch"]),
        }
        run(sys.executable, str(ROOT / "scripts" / "demo" / "run.py"), env=env, cwd=ROOT)
        log("the walk-through passed against the containers")
        return 0
    finally:
        if not args.keep:
            for name in names:
                subprocess.run(podman("rm", "-f", name), capture_output=True)
            moto.terminate()
            pg.destroy()


if __name__ == "__main__":
    sys.exit(main())
