"""The object-store implementation: any S3-compatible service (AWS S3, MinIO, Ceph, R2 …).

boto3 finds the endpoint, region and credentials the standard way (``AWS_ENDPOINT_URL`` or
``AWS_ENDPOINT_URL_S3``, ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, a profile, an instance or pod role …), so nothing here is ours to
configure but the bucket and the prefix. With a custom endpoint, path-style addressing is
used (what MinIO and most self-hosted stores expect); ``AWS_S3_ADDRESSING_STYLE`` overrides.

Uploads go up in parts of ``PART_BYTES``, at most ``PART_THREADS`` at a time: an upload holds
about ``PART_BYTES * PART_THREADS`` in memory whatever the file's size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from phi_core_api.storage import StoredObject

PART_BYTES = 8 * 1024 * 1024
PART_THREADS = 2
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3FileStorage:
    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client or _client()
        self.transfer = TransferConfig(
            multipart_threshold=PART_BYTES,
            multipart_chunksize=PART_BYTES,
            max_concurrency=PART_THREADS,
            max_io_queue=PART_THREADS,
        )

    def object_key(self, key: str) -> str:
        from phi_core_api.storage import check_key

        rel = check_key(key).as_posix()
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _base(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def save(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data)

    def save_stream(self, key: str, source: BinaryIO) -> None:
        self.client.upload_fileobj(source, self.bucket, self.object_key(key), Config=self.transfer)

    def read(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise FileNotFoundError(key) from exc
            raise
        body = response["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise
        return True

    def folders(self) -> list[str]:
        base = self._base()
        found: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=base, Delimiter="/"
        )
        for page in pages:
            for entry in page.get("CommonPrefixes", []):
                found.append(entry["Prefix"][len(base) :].rstrip("/"))
        return sorted(found)

    def list(self, folder: str) -> Iterator[StoredObject]:
        from phi_core_api.storage import StoredObject

        base = self._base()
        prefix = self.object_key(folder) + "/"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            for entry in page.get("Contents", []):
                yield StoredObject(
                    entry["Key"][len(base) :], int(entry["Size"]), entry["LastModified"].timestamp()
                )

    def delete_folder(self, folder: str) -> int:
        keys = [self.object_key(o.key) for o in self.list(folder)]
        for start in range(0, len(keys), 1000):  # the most one DeleteObjects call takes
            batch = keys[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
        return len(keys)

    def check(self) -> None:
        """Raise StorageConfigError, naming the bucket and endpoint, if it cannot be reached."""
        from phi_core_api.storage import StorageConfigError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise StorageConfigError(
                f"PHI_STORAGE_URL: the bucket {self.bucket!r} at {self.client.meta.endpoint_url} "
                f"cannot be used ({exc}); check the bucket name, AWS_ENDPOINT_URL and the "
                "AWS credentials"
            ) from exc

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{where} at {self.client.meta.endpoint_url}"


def _client() -> Any:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    style = os.environ.get("AWS_S3_ADDRESSING_STYLE") or ("path" if endpoint else "auto")
    config = Config(
        s3={"addressing_style": style},
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        read_timeout=60,
    )
    return boto3.session.Session().client("s3", config=config)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
