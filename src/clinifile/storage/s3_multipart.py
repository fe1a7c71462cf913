"""The S3 store's multipart operations (storage/base.py): uploads sent in parts by clients,
and the copy of objects over 5 GiB (one CopyObject's limit) part by part (UploadPartCopy)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from clinifile.errors import ObjectNotFound
from clinifile.storage.base import MultipartUploadInfo, UploadedPart
from clinifile.storage.s3_errors import translate

log = logging.getLogger(__name__)

# parts copied at once by copy_multipart (each a request the store serves on its own)
COPY_PARALLEL = 4


class S3Multipart:
    """Mixed into S3Store, which sets _client (a boto3 S3 client) and bucket."""

    _client: Any
    bucket: str

    def create_multipart(self, key: str, *, content_type: str | None) -> str:
        extra = {"ContentType": content_type} if content_type else {}
        try:
            response = self._client.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        except Exception as error:
            raise translate(error, key) from error
        return str(response["UploadId"])

    def presign_upload_part(self, key: str, upload_id: str, number: int, *, expires_in: int) -> str:
        params = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": number}
        return str(
            self._client.generate_presigned_url(
                "upload_part", Params=params, ExpiresIn=expires_in, HttpMethod="PUT"
            )
        )

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        latest: dict[int, tuple[Any, UploadedPart]] = {}
        try:
            paginator = self._client.get_paginator("list_parts")
            for page in paginator.paginate(Bucket=self.bucket, Key=key, UploadId=upload_id):
                for p in page.get("Parts", []):
                    part = UploadedPart(int(p["PartNumber"]), int(p["Size"]), p["ETag"].strip('"'))
                    # SeaweedFS lists a part sent twice twice, in no order: the one sent last
                    # is what it holds (its times have whole seconds: within one second the
                    # later listed is taken)
                    held = latest.get(part.number)
                    if held is None or p["LastModified"] >= held[0]:
                        latest[part.number] = (p["LastModified"], part)
        except Exception as error:
            raise translate(error, key) from error
        return [latest[number][1] for number in sorted(latest)]

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        listed = [{"PartNumber": number, "ETag": f'"{etag}"'} for number, etag in sorted(parts)]
        try:
            response = self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": listed},
            )
        except Exception as error:
            raise translate(error, key) from error
        return str(response["ETag"]).strip('"')

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception as error:
            translated = translate(error, key)
            if not isinstance(translated, ObjectNotFound):
                raise translated from error

    def iter_multipart_uploads(self, prefix: str) -> Iterator[list[MultipartUploadInfo]]:
        try:
            paginator = self._client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                yield [
                    MultipartUploadInfo(u["Key"], u["UploadId"], u.get("Initiated"))
                    for u in page.get("Uploads", [])
                ]
        except Exception as error:
            raise translate(error, prefix) from error

    def copy_multipart(
        self,
        source_key: str,
        dest_key: str,
        *,
        if_match: str,
        size: int,
        part_size: int,
        content_type: str,
        content_disposition: str,
    ) -> str:
        try:
            upload_id = str(
                self._client.create_multipart_upload(
                    Bucket=self.bucket,
                    Key=dest_key,
                    ContentType=content_type,
                    ContentDisposition=content_disposition,
                )["UploadId"]
            )
        except Exception as error:
            raise translate(error, dest_key) from error
        ranges = [(start, min(start + part_size, size) - 1) for start in range(0, size, part_size)]

        def copy_part(number: int) -> tuple[int, str]:
            first, last = ranges[number - 1]
            response = self._client.upload_part_copy(
                Bucket=self.bucket,
                Key=dest_key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": self.bucket, "Key": source_key},
                CopySourceIfMatch=f'"{if_match}"',
                CopySourceRange=f"bytes={first}-{last}",
            )
            return number, str(response["CopyPartResult"]["ETag"]).strip('"')

        try:
            with ThreadPoolExecutor(COPY_PARALLEL) as pool:
                parts = list(pool.map(copy_part, range(1, len(ranges) + 1)))
            return self.complete_multipart(dest_key, upload_id, parts)
        except Exception as error:
            log.warning("copy of %s in %d parts failed; aborting it", dest_key, len(ranges))
            self.abort_multipart(dest_key, upload_id)
            raise translate(error, source_key) from error
