"""`make dev`'s stack heals itself while documents are uploaded: a PostgreSQL restart ends no
process (the workers reconnect), every process the runner starts (PostgreSQL and each of its
SERVICES) killed in turn comes back by itself, and no acknowledged upload is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import psutil
import pytest
from core_factories import create_agent, create_org, signup

RUNNER = Path(__file__).resolve().parents[1] / "run.py"


class Stack:
    def __init__(self, tmp_path: Path, ports: dict[str, str]) -> None:
        self.ports = ports
        self.api_port, self.router_port = ports["PHI_CORE_API_PORT"], ports["PHI_LLM_ROUTER_PORT"]
        self.env = {
            **os.environ,
            **ports,
            "PHI_DATA_DIR": str(tmp_path / "data"),
            # A killed worker's job goes back to the queue after 4 s of silence.
            "PHI_WORKER_STALLED_SECONDS": "4",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("DATABASE_URL", None)
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.router = f"http://127.0.0.1:{self.router_port}"
        self.log = tmp_path / "dev.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(RUNNER)],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self, url: str, timeout: float = 120, page: str = "/health") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(f"{url}{page}", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{url} did not become healthy:\n{self.output()[-5000:]}")

    def wait_ready(self, headers: dict[str, str], org_id: str, timeout: float = 60) -> None:
        """Until an authenticated request that reads the database succeeds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"{self.api}/orgs/{org_id}/agents", headers=headers, timeout=5)
                if r.status_code == 200:
                    return
                assert r.status_code == 503, r.text
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the API did not get its database back:\n{self.output()[-5000:]}")

    def wait_for(self, done: Callable[[], object], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert self.proc.poll() is None, self.output()[-5000:]
            assert time.monotonic() < deadline, f"no {what}:\n{self.output()[-5000:]}"
            time.sleep(0.1)

    def child(self, marker: str) -> psutil.Process:
        """The supervisor's child whose command line contains ``marker``."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for p in psutil.Process(self.proc.pid).children():
                try:
                    if any(marker in part for part in p.cmdline()):
                        return p
                except psutil.NoSuchProcess:
                    pass
            time.sleep(0.2)
        raise AssertionError(f"no child running {marker}:\n{self.output()[-5000:]}")

    def kill_and_wait_back(self, marker: str) -> None:
        victim = self.child(marker)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        deadline = time.monotonic() + 60
        while self.child(marker).pid == victim.pid:
            assert time.monotonic() < deadline, f"{marker} was not restarted"
            time.sleep(0.2)


class Uploader(threading.Thread):
    """Uploads a small document every two seconds; keeps those the API accepted. On a busy
    2-core machine ingestion takes 4-5 s a document, so a queue builds up while the processes
    are killed; at this pace (about 35 uploads) it drains within the wait below."""

    def __init__(self, url: str, headers: dict[str, str], agent_id: str) -> None:
        super().__init__(daemon=True)
        self.url, self.headers, self.agent_id = url, headers, agent_id
        self.accepted: list[dict[str, str]] = []
        self.refused = 0
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        with httpx.Client(base_url=self.url, timeout=15) as c:
            while not self.stop.is_set():
                n += 1
                text = f"Procedure {n}: check the seal on trailer {n} before loading.\n" * 3
                try:
                    r = c.post(
                        f"/agents/{self.agent_id}/documents",
                        files={"file": (f"p{n}.txt", text.encode(), "text/plain")},
                        data={"source_type": "SOP"},
                        headers=self.headers,
                    )
                except httpx.HTTPError:
                    self.refused += 1
                else:
                    if r.status_code == 202:
                        self.accepted.append(r.json())
                    else:
                        assert r.status_code == 503, r.text
                        self.refused += 1
                self.stop.wait(2.0)


def _marker(service: Any) -> str:
    """What the service's command line holds and no other child's does."""
    return service.module or next(Path(c).name for c in service.command if c.endswith(".mjs"))


def test_stack_heals_after_each_process_is_killed(
    data_home: Path, stack_ports: Callable[[], dict[str, str]], dev_runner_module: ModuleType
) -> None:
    services = dev_runner_module.SERVICES
    if dev_runner_module.WEB not in services:
        pytest.fail("the web app is not built, so the runner would not start it: make web-build")
    tmp_path = data_home
    stack = Stack(tmp_path, stack_ports())
    try:
        stack.wait_healthy(stack.api)
        stack.wait_healthy(stack.router)
        with httpx.Client(base_url=stack.api, timeout=30) as c:
            owner = signup(c)
            org = create_org(c, owner)
            agent = create_agent(c, owner, org["id"])
        uploader = Uploader(stack.api, owner.headers, agent["id"])
        uploader.start()
        stack.wait_for(lambda: uploader.accepted, "a first upload accepted")

        # A database restart (fast shutdown, back 0.5 s later): the services ride it out.
        postgres = stack.child("bin/postgres")
        postgres.send_signal(signal.SIGINT)
        postgres.wait(30)
        stack.wait_ready(owner.headers, org["id"])
        # Every service that reads the database says so on /ready once it has it back (the
        # workers reconnected); none of them exited meanwhile.
        for service in services:
            if service.observable:
                url = f"http://127.0.0.1:{stack.ports[service.port_env]}"
                stack.wait_healthy(url, page="/ready")
        out = stack.output()
        assert "postgres exited (code 0)" in out
        for service in services:
            assert f" {service.name} exited (" not in out, out[-5000:]

        # Every process the runner starts, killed in turn, comes back and serves again.
        for service in services:
            stack.kill_and_wait_back(_marker(service))
            url = f"http://127.0.0.1:{stack.ports[service.port_env]}"
            stack.wait_healthy(url, page="/health" if service.observable else "/login")
        stack.kill_and_wait_back("bin/postgres")
        stack.wait_ready(owner.headers, org["id"])
        # Uploads go on until enough were acknowledged through the turmoil and after it.
        stack.wait_for(lambda: len(uploader.accepted) >= 8, "8 uploads accepted")
        uploader.stop.set()
        uploader.join(30)

        accepted = uploader.accepted
        assert len(accepted) >= 8, (uploader.refused, stack.output()[-5000:])
        final = {}
        deadline = time.monotonic() + 150
        with httpx.Client(base_url=stack.api, timeout=15) as c:
            for doc in accepted:
                while True:
                    r = c.get(f"/agents/{agent['id']}/documents/{doc['id']}", headers=owner.headers)
                    if r.status_code == 200 and r.json()["status"] in ("READY", "FAILED"):
                        final[doc["id"]] = r.json()
                        break
                    assert time.monotonic() < deadline, (doc, r.text, stack.output()[-8000:])
                    time.sleep(0.3)
        for body in final.values():
            assert body["status"] == "READY" or body["error"], body
        # Plain text of this size never fails: every acknowledged upload was ingested.
        assert {b["status"] for b in final.values()} == {"READY"}, final

        out = stack.output()
        # PostgreSQL, core-api and its worker, the orchestrator and its worker, the LLM router
        # and the web app; a process added to the runner's SERVICES joins the list by itself.
        killed = ["postgres", *(service.name for service in services)]
        assert len(killed) == 7, killed
        for name in killed:
            assert f" {name} exited (signal 9); restarting" in out, out[-5000:]
        assert stack.proc.poll() is None
    finally:
        stack.proc.send_signal(signal.SIGTERM)
        try:
            code = stack.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stack.proc.kill()
            raise
    assert code == 0, stack.output()[-5000:]
    assert "all stopped" in stack.output()
