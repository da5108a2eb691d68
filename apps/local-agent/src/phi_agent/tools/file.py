"""The ``file`` tool: tabular exports (CSV, XLSX, JSON, TXT) read under the policy's roots.

A path is allowed only if its resolved real path (symlinks and ``..`` followed) lies inside
the resolved real path of an allowed root, compared by path components, so neither ``..``, a
symlink pointing out, nor a sibling such as ``/data-evil`` beside ``/data`` gets through.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

from phi_agent.audit import AuditLog
from phi_agent.policy import FileToolPolicy, Policy
from phi_agent.registry import CheckLine, ToolFailed, ToolRefused, register
from phi_agent.tools.db import _encode


def resolve_allowed_path(requested: str, policy: FileToolPolicy) -> Path:
    """The real path of ``requested`` if the policy allows reading it; else ToolRefused."""
    if not isinstance(requested, str) or not requested.strip():
        raise ToolRefused("the path is empty")
    if "\x00" in requested:
        raise ToolRefused("the path contains a NUL character")
    if not policy.roots:
        raise ToolRefused("the policy allows no folders")
    path = Path(requested).expanduser()
    if not path.is_absolute():
        path = policy.roots[0] / path
    real = Path(os.path.realpath(path))
    roots = [Path(os.path.realpath(root)) for root in policy.roots]
    if not any(real == root or real.is_relative_to(root) for root in roots):
        raise ToolRefused(f"{requested} is outside the allowed folders")
    extension = real.suffix.lower().lstrip(".")
    if extension not in policy.extensions:
        raise ToolRefused(
            f"{requested}: files of type '.{extension}' are not allowed "
            f"(allowed: {', '.join(policy.extensions)})"
        )
    try:
        info = real.stat()
    except FileNotFoundError as exc:
        raise ToolFailed(f"{requested} does not exist") from exc
    except OSError as exc:
        raise ToolFailed(f"{requested}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ToolRefused(f"{requested} is not a regular file")
    if info.st_size > policy.max_bytes:
        raise ToolRefused(
            f"{requested} is {info.st_size} bytes, over the policy's limit of {policy.max_bytes}"
        )
    return real


def _open_no_follow(real: Path) -> io.BufferedReader:
    # The real path was checked; O_NOFOLLOW stops a symlink swapped in after the check.
    fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    return os.fdopen(fd, "rb")


class FileTool:
    name = "file"

    def __init__(self, policy: Policy, audit: AuditLog) -> None:
        self.policy = policy.tools.file
        self.audit = audit

    def run(self, payload: dict[str, Any]) -> str:
        if payload.get("action") == "list":
            from phi_agent.tools.file_list import list_files

            return list_files(self, payload)
        files = payload.get("files")
        if not isinstance(files, list) or not files:
            raise ToolRefused("payload.files must be a non-empty list")
        resolved = []
        for i, item in enumerate(files):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise ToolRefused(f"payload.files[{i}] needs a name and a path")
            resolved.append((item["name"], resolve_allowed_path(item.get("path", ""), self.policy)))
        budget = self.policy.max_result_bytes
        parts = []
        for name, real in resolved:
            started = time.perf_counter()
            fragment = self._read(real)
            budget -= len(fragment)
            if budget < 0:
                raise ToolFailed(
                    f"the files' contents pass the policy's result limit of "
                    f"{self.policy.max_result_bytes} bytes"
                )
            parts.append(f"{_encode(name)}:{fragment}")
            self.audit.record(
                "file_read",
                tool="file",
                name=name,
                path=str(real),
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
        return '{"results":{' + ",".join(parts) + "}}"

    def _read(self, real: Path) -> str:
        extension = real.suffix.lower().lstrip(".")
        with _open_no_follow(real) as handle:
            if extension == "csv":
                reader = csv.reader(io.TextIOWrapper(handle, encoding="utf-8-sig", newline=""))
                return self._table(reader)
            if extension == "xlsx":
                return self._xlsx(handle)
            raw = handle.read().decode("utf-8", errors="replace")
        if extension == "json":
            try:
                return _encode(json.loads(raw))
            except json.JSONDecodeError as exc:
                raise ToolFailed(f"{real.name} is not valid JSON: {exc}") from exc
        return _encode({"text": raw})

    def _table(self, rows: Any) -> str:
        iterator = iter(rows)
        columns: list[Any] = list(next(iterator, []))
        pieces: list[str] = []
        truncated = False
        for row in iterator:
            if len(pieces) >= self.policy.max_rows:
                truncated = True
                break
            pieces.append(_encode(list(row)))
        return (
            '{"columns":' + _encode(list(columns)) + ',"rows":[' + ",".join(pieces) + "]"
            f',"row_count":{len(pieces)},"truncated":{"true" if truncated else "false"}}}'
        )

    def _xlsx(self, handle: io.BufferedReader) -> str:
        from openpyxl import load_workbook  # imported here: only XLSX reads pay for it

        try:
            workbook = load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a broken file
            raise ToolFailed(f"not a readable XLSX file: {exc}") from exc
        try:
            sheet = workbook.worksheets[0]
            return self._table(list(r) for r in sheet.iter_rows(values_only=True))
        finally:
            workbook.close()

    def check(self) -> list[CheckLine]:
        lines = []
        for root in self.policy.roots:
            ok = root.is_dir() and os.access(root, os.R_OK | os.X_OK)
            lines.append(
                CheckLine(f"file root {root}", ok, "readable" if ok else "not a readable folder")
            )
        return lines

    def close(self) -> None:
        pass


@register("file")
def _factory(policy: Policy, audit: AuditLog) -> FileTool:
    return FileTool(policy, audit)
