"""Where uploaded files live: one interface, two implementations.

``PHI_STORAGE_URL`` chooses: unset (or ``file:///path``) keeps files in a local folder
(``$PHI_DATA_DIR/files`` by default, what ``make dev`` uses); ``s3://bucket/prefix`` puts them
in any S3-compatible object store, reached with the standard AWS variables
(``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` …).

Keys are chosen by the documents service: ``<org_id>/<document_id>.<ext>``. The organization
comes first so that a bucket policy (or a person reading the bucket) can scope by tenant, and
so that the orphan sweep can remove a deleted organization's files as one folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

from phi_core_api.storage.local import LocalFileStorage

if TYPE_CHECKING:
    from phi_core_api.settings import CoreApiSettings

__all__ = [
    "FileStorage",
    "LocalFileStorage",
    "StoredObject",
    "StorageConfigError",
    "check_key",
    "storage_for",
    "storage_from_url",
]


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: float  # seconds since the epoch


class StorageConfigError(ValueError):
    """PHI_STORAGE_URL (or the store it names) is not usable; the message says why."""


class FileStorage(Protocol):
    """What the documents domain needs from a store. ``FileNotFoundError`` for a missing key."""

    def save(self, key: str, data: bytes) -> None: ...
    def save_stream(self, key: str, source: BinaryIO) -> None:
        """Store ``source`` from its current position to its end, a chunk at a time."""
        ...

    def read(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def folders(self) -> list[str]:
        """The first level of keys (one per organization, plus whatever else is there)."""
        ...

    def list(self, folder: str) -> Iterator[StoredObject]:
        """Every object under ``folder/``."""
        ...

    def delete_folder(self, folder: str) -> int:
        """Remove everything under ``folder/``; returns how many objects went."""
        ...

    def describe(self) -> str:
        """Where the files go, for logs and command output (no credentials)."""
        ...


def check_key(key: str) -> PurePosixPath:
    """The key as a relative path; ValueError for one that is empty, absolute or climbs out."""
    rel = PurePosixPath(key)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or "\\" in key:
        raise ValueError(f"invalid storage key {key!r}")
    return rel


@lru_cache(maxsize=8)
def storage_from_url(url: str | None, data_dir: Path) -> FileStorage:
    """The store named by ``url`` (``PHI_STORAGE_URL``); the local default when None/empty.
    One per process and location: an S3 client is thread-safe and keeps its connections."""
    if not url:
        return LocalFileStorage(data_dir / "files")
    parts = urlsplit(url)
    if parts.scheme == "file":
        if not parts.path:
            raise StorageConfigError(f"PHI_STORAGE_URL={url!r}: a file URL needs a path")
        return LocalFileStorage(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        from phi_core_api.storage.s3 import S3FileStorage

        if not parts.netloc:
            raise StorageConfigError(
                f"PHI_STORAGE_URL={url!r}: name the bucket, as in s3://bucket/prefix"
            )
        return S3FileStorage(parts.netloc, parts.path.strip("/"))
    raise StorageConfigError(
        f"PHI_STORAGE_URL={url!r}: unsupported scheme {parts.scheme!r}; "
        "use s3://bucket/prefix or file:///path"
    )


def storage_for(settings: CoreApiSettings) -> FileStorage:
    """The store of the settings (``PHI_STORAGE_URL``, ``PHI_DATA_DIR``)."""
    return storage_from_url(settings.storage_url, settings.data_dir)
