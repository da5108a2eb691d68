"""`phi-documents migrate-storage`: copy every document's file from one store to another.

Used when moving from the local folder to an object store (or between stores). Each file is
checked three times against the checksum recorded at upload (``documents.sha256``): the source
must still match it (a file changed on disk is reported, not copied), and the copy is read
back from the target and must match it too. A file already in the target with the right
checksum is skipped, so the command can be run again after an interruption, and while the
services keep running on the old store (run it once more after switching them over, for the
uploads that arrived in between).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from phi_core_api.storage import FileStorage


@dataclass
class MigrationReport:
    copied: int = 0
    already_there: int = 0
    missing: list[str] = field(default_factory=list)  # keys with no source file
    mismatched: list[str] = field(default_factory=list)  # keys whose checksum did not match

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def migrate_files(
    conn: Any,
    source: FileStorage,
    target: FileStorage,
    log: Callable[[str], None] = print,
) -> MigrationReport:
    """Copy the files of every document row from ``source`` to ``target``, verified."""
    report = MigrationReport()
    rows = conn.execute(
        "SELECT storage_path, sha256 FROM documents WHERE storage_path <> '' "
        "ORDER BY org_id, created_at, id"
    ).fetchall()
    for key, expected in rows:
        if target.exists(key) and _sha256(target.read(key)) == expected:
            report.already_there += 1
            continue
        try:
            data = source.read(key)
        except FileNotFoundError:
            report.missing.append(key)
            log(f"missing: {key} is not in {source.describe()}")
            continue
        if _sha256(data) != expected:
            report.mismatched.append(key)
            log(f"not copied: {key} in {source.describe()} differs from the uploaded file")
            continue
        target.save(key, data)
        if _sha256(target.read(key)) != expected:
            report.mismatched.append(key)
            log(f"bad copy: {key} read back from {target.describe()} differs; run again")
            continue
        report.copied += 1
    return report
