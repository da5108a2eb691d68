"""The ``file`` tool's listing (payload ``{"action": "list", "path": ...}``): the files under
a folder inside the policy's roots that the policy lets the agent read.

Only files whose type the policy allows are listed, found by walking the real folder without
following symbolic links out of it; a folder outside the roots is refused like a file is.
Without a path, every root is listed. Recorded in the audit log.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phi_agent.registry import ToolRefused

if TYPE_CHECKING:
    from phi_agent.tools.file import FileTool

MAX_FILES = 500


def _allowed_folder(requested: str, roots: list[Path]) -> Path:
    if "\x00" in requested:
        raise ToolRefused("the path contains a NUL character")
    path = Path(requested).expanduser()
    if not path.is_absolute():
        path = roots[0] / path
    real = Path(os.path.realpath(path))
    if not any(real == r or real.is_relative_to(r) for r in roots):
        raise ToolRefused(f"{requested} is outside the allowed folders")
    if not real.is_dir():
        raise ToolRefused(f"{requested} is not a folder")
    return real


def list_files(tool: FileTool, payload: dict[str, Any]) -> str:
    """The readable files under the payload's folder (or every root), as JSON."""
    from phi_agent.tools.db import _encode

    policy = tool.policy
    if not policy.roots:
        raise ToolRefused("the policy allows no folders")
    roots = [Path(os.path.realpath(root)) for root in policy.roots]
    requested = payload.get("path")
    if requested is not None and not isinstance(requested, str):
        raise ToolRefused("payload.path must be a folder path or null")
    folders = [_allowed_folder(requested, roots)] if requested else roots
    started = time.perf_counter()
    files: list[dict[str, Any]] = []
    more = 0
    for folder in folders:
        for directory, subdirs, names in os.walk(folder, followlinks=False):
            subdirs.sort()
            for name in sorted(names):
                path = Path(directory) / name
                if path.suffix.lower().lstrip(".") not in policy.extensions or path.is_symlink():
                    continue
                if len(files) >= MAX_FILES:
                    more += 1
                    continue
                info = path.stat()
                files.append(
                    {
                        "path": str(path),
                        "bytes": info.st_size,
                        "modified": datetime.fromtimestamp(info.st_mtime, UTC).isoformat(
                            timespec="seconds"
                        ),
                    }
                )
    tool.audit.record(
        "file_list",
        tool="file",
        path=requested or ",".join(map(str, roots)),
        files=len(files),
        ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return _encode({"files": files, "files_left_out": more})
