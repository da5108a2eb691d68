"""The local-folder store: files under one root (``$PHI_DATA_DIR/files`` by default)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from phi_core_api.storage import StoredObject

# Copy buffer of save_stream: what one upload holds in memory at a time.
CHUNK_BYTES = 1024 * 1024


class LocalFileStorage:
    """Files under ``root``; writes are atomic (temp file + rename), so a reader never sees
    half a file. Interrupted temp files (``.upload-*``) are left for the orphan sweep."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        """The file of ``key``; ValueError for a key that would leave ``root``."""
        from phi_core_api.storage import check_key

        return self.root.joinpath(*check_key(key).parts)

    def save(self, key: str, data: bytes) -> None:
        self._write(key, lambda fh: fh.write(data))

    def save_stream(self, key: str, source: BinaryIO) -> None:
        self._write(key, lambda fh: shutil.copyfileobj(source, fh, CHUNK_BYTES))

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fill(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def folders(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def list(self, folder: str) -> Iterator[StoredObject]:
        from phi_core_api.storage import StoredObject

        base = self.path(folder)
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file():
                stat = path.stat()
                key = path.relative_to(self.root).as_posix()
                yield StoredObject(key, stat.st_size, stat.st_mtime)

    def delete_folder(self, folder: str) -> int:
        base = self.path(folder)
        if not base.is_dir():
            return 0
        count = sum(1 for p in base.rglob("*") if p.is_file())
        shutil.rmtree(base, ignore_errors=True)
        return count

    def describe(self) -> str:
        return f"the folder {self.root}"
