"""The documents bucket: presigned uploads and downloads, and the moves of the upload check."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from cashline.adapters.aws import s3_client


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    url: str
    fields: dict[str, str]
    expires_in_seconds: int


class DocumentStore:
    def __init__(self, bucket: str, *, region: str, endpoint: str | None):
        self.bucket = bucket
        self._s3 = s3_client(region, endpoint)

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_in_seconds: int = 900
    ) -> PresignedUpload:
        """A presigned POST that S3 itself refuses unless the type and size are the agreed ones."""
        post = self._s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in_seconds,
        )
        return PresignedUpload(url=post["url"], fields=post["fields"], expires_in_seconds=expires_in_seconds)

    def presign_download(self, key: str, *, filename: str | None, expires_in_seconds: int = 300) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return str(self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in_seconds))

    def size(self, key: str) -> int | None:
        """The object's size, or None when it is not there (already moved by an earlier delivery)."""
        try:
            return int(self._s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def head_bytes(self, key: str, count: int) -> bytes:
        body = self._s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{count - 1}")["Body"]
        return bytes(body.read())

    def read(self, key: str) -> bytes:
        return bytes(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        for chunk in self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].iter_chunks(1024 * 1024):
            digest.update(chunk)
        return digest.hexdigest()

    def move(self, source: str, target: str) -> None:
        self._s3.copy_object(
            Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source}
        )
        self._s3.delete_object(Bucket=self.bucket, Key=source)

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=key)
