"""A throwaway MariaDB server for the db tool's MySQL tests: Debian's ``mariadb-server``
(installed by ``make test-full``), started under a folder of the test's on a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pymysql


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MariaDB:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def root(self, database: str | None = None) -> pymysql.Connection:
        return pymysql.connect(
            host="127.0.0.1", port=self.port, user="root", database=database, autocommit=True
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_mariadb(base: Path) -> MariaDB:
    server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
    install = shutil.which("mariadb-install-db")
    if not server or not install:
        raise RuntimeError(
            "MariaDB is not installed: `make test-full` installs Debian's mariadb-server "
            "(apt-get install mariadb-server)"
        )
    data = base / "data"
    user = ["--user=root"] if os.geteuid() == 0 else []  # mariadbd refuses root otherwise
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user,
        ],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    log = base / "mariadb.log"
    process = subprocess.Popen(
        [
            server,
            "--no-defaults",
            f"--datadir={data}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={base / 'mariadb.sock'}",
            f"--pid-file={base / 'mariadb.pid'}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            *user,
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    db = MariaDB(process, port, log)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"mariadbd exited: {log.read_text()[-2000:]}")
        try:
            db.root().close()
            return db
        except pymysql.err.OperationalError as exc:
            if time.monotonic() > deadline:
                db.stop()
                raise RuntimeError(f"mariadbd did not answer: {log.read_text()[-2000:]}") from exc
            time.sleep(0.2)
