"""The S3 implementation of the storage interface (AWS S3, SeaweedFS, MinIO, Ceph RGW)."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from urllib.parse import quote

import boto3
from botocore.auth import ISO8601, S3SigV4PostAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

from clinifile.errors import (
    ObjectNotFound,
    StorageError,
)
from clinifile.storage.base import ObjectInfo, PresignedPost
from clinifile.storage.s3_errors import answered
from clinifile.storage.s3_errors import translate as _translate
from clinifile.storage.s3_multipart import S3Multipart
from clinifile.storage.s3_requests import Answer, SignedRequests, element_text, error_code

log = logging.getLogger(__name__)

# S3's DeleteObjects takes at most 1,000 keys a request
DELETE_BATCH = 1000


def make_client(
    endpoint_url: str | None,
    s3_region: str,
    access_key_id: str | None,
    secret_access_key: str | None,
) -> Any:
    """One boto3 client per region, built once: SigV4 always; path-style for custom
    endpoints (SeaweedFS, MinIO), virtual-hosted style on AWS."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "virtual"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=32,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=s3_region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


class S3Store(S3Multipart):
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self.bucket = bucket
        endpoint = client.meta.endpoint_url.rstrip("/")
        if client.meta.config.s3.get("addressing_style") == "path":
            self._bucket_url = f"{endpoint}/{bucket}/"
        else:
            scheme, host = endpoint.split("://", 1)
            self._bucket_url = f"{scheme}://{bucket}.{host}/"
        self._requests = SignedRequests(client, self._bucket_url)

    @property
    def bucket_url(self) -> str:
        return self._bucket_url

    def presign_post(self, key_prefix: str, max_bytes: int, expires_in: int) -> PresignedPost:
        """The policy and fields boto3's generate_presigned_post makes, signed by botocore's
        own S3 POST signer directly: the client method resolves endpoints and runs its event
        hooks on every call (154 us here), the signer alone takes 20 us, and the bucket URL
        is already known."""
        key = key_prefix + "${filename}"
        expiration = datetime.now(UTC) + timedelta(seconds=expires_in)
        request = AWSRequest(method="POST", url=self._bucket_url)
        request.context["s3-presign-post-fields"] = {
            "acl": "private",
            "success_action_status": "201",
            "key": key,
        }
        request.context["s3-presign-post-policy"] = {
            "expiration": expiration.strftime(ISO8601),
            "conditions": [
                {"acl": "private"},
                {"success_action_status": "201"},
                ["content-length-range", 1, max_bytes],
                {"bucket": self.bucket},
                ["starts-with", "$key", key_prefix],
            ],
        }
        # the client's own credentials, frozen for this signature (instance-role credentials
        # are refreshed by botocore)
        credentials = self._client._request_signer._credentials.get_frozen_credentials()
        S3SigV4PostAuth(credentials, "s3", self._client.meta.region_name).add_auth(request)
        return PresignedPost(
            url=self._bucket_url, fields=dict(request.context["s3-presign-post-fields"])
        )

    def head(self, key: str) -> ObjectInfo | None:
        answer = self._requests.send("HEAD", key)
        if answer.status != 200:
            self._check_absent(answer, key)
            return None
        return self._info(key, answer)

    def iter_chunks(self, key: str, *, if_match: str, chunk_size: int) -> Iterator[bytes]:
        answer = self._requests.send("GET", key, {"If-Match": f'"{if_match}"'}, stream=True)
        if answer.status != 200:
            raise self._requests.refusal(answer, key)
        yield from answer.chunks(key, chunk_size)

    def open(
        self, key: str, *, chunk_size: int
    ) -> tuple[ObjectInfo, Generator[bytes, None, None]] | None:
        answer = self._requests.send("GET", key, stream=True)
        if answer.status != 200:
            self._check_absent(answer, key)
            return None
        return self._info(key, answer), answer.chunks(key, chunk_size)

    def _check_absent(self, answer: Answer, key: str) -> None:
        """Raises the error of an answer, unless it says there is no such object."""
        error = self._requests.refusal(answer, key)
        # 400: a key the store cannot hold (SeaweedFS: "..\\x"), so no such object
        if not isinstance(error, ObjectNotFound) and answer.status != 400:
            raise error

    @staticmethod
    def _info(key: str, answer: Answer) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            size=int(answer.headers["Content-Length"]),
            etag=answer.headers["ETag"].strip('"'),
            content_type=answer.headers.get("Content-Type"),
        )

    def copy(
        self,
        source_key: str,
        dest_key: str,
        *,
        if_match: str,
        content_type: str,
        content_disposition: str,
    ) -> str:
        answer = self._requests.send(
            "PUT",
            dest_key,
            {
                "x-amz-copy-source": quote(f"{self.bucket}/{source_key}", safe="/~"),
                "x-amz-copy-source-if-match": f'"{if_match}"',
                "x-amz-metadata-directive": "REPLACE",
                "Content-Type": content_type,
                "Content-Disposition": content_disposition,
            },
        )
        etag = element_text(answer.body, "ETag") if answer.status == 200 else None
        if etag is None:
            # S3 may answer a copy it failed part-way with 200 and an error document
            status = 500 if answer.status == 200 else answer.status
            raise answered(status, error_code(answer.body) or str(status), source_key)
        return etag.strip('"')

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )
        except Exception as error:
            raise _translate(error, key) from error

    def delete(self, key: str) -> None:
        answer = self._requests.send("DELETE", key)
        if answer.status not in (200, 204):
            error = self._requests.refusal(answer, key)
            if not isinstance(error, ObjectNotFound):
                raise error

    def presign_get(
        self, key: str, *, content_disposition: str, content_type: str, expires_in: int
    ) -> str:
        return self._client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": content_disposition,
                "ResponseContentType": content_type,
            },
            ExpiresIn=expires_in,
        )

    def iter_keys(self, prefix: str) -> Iterator[list[ObjectInfo]]:
        try:
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                yield [
                    ObjectInfo(
                        key=o["Key"],
                        size=int(o["Size"]),
                        etag=o["ETag"].strip('"'),
                        last_modified=o.get("LastModified"),
                    )
                    for o in page.get("Contents", [])
                ]
        except Exception as error:
            raise _translate(error, prefix) from error

    def delete_many(self, keys: Iterable[str]) -> None:
        refused: list[str] = []
        pending = iter(keys)
        while batch := list(islice(pending, DELETE_BATCH)):
            try:
                response = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            except Exception as error:
                raise _translate(error, batch[0]) from error
            # Quiet: the answer lists only the keys the store could not delete
            refused += [f"{e.get('Key')!r} ({e.get('Code')})" for e in response.get("Errors", [])]
        if refused:
            more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
            raise StorageError(f"object store refused to delete {', '.join(refused[:5])}{more}")

    def check(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except Exception as error:
            translated = _translate(error, self.bucket)
            if isinstance(translated, ObjectNotFound):
                raise StorageError(
                    f"bucket {self.bucket!r} does not exist at {self._bucket_url}: clinifile "
                    "creates it when `clinifile serve` starts, or create it yourself"
                ) from error
            raise translated from error

    # Setting the bucket up: the S3 store's own, not the storage interface's.

    def ensure_bucket(self) -> None:
        """Creates the bucket unless it exists; calling it again changes nothing (its
        objects stay)."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code not in {"404", "NoSuchBucket", "NotFound"}:
                raise _translate(error, self.bucket) from error
        except Exception as error:
            raise _translate(error, self.bucket) from error
        log.info("creating bucket %s", self.bucket)
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        region = self._client.meta.region_name
        if self._client.meta.config.s3.get("addressing_style") != "path" and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self._client.create_bucket(**kwargs)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise _translate(error, self.bucket) from error

    def set_cors(self, origins: list[str]) -> None:
        """Replaces the bucket's CORS rules: a browser of one of these origins ("*": any)
        may POST uploads and read the answer's ETag and Location; other origins' preflight
        requests are refused."""
        rules = {
            "CORSRules": [
                {
                    "AllowedOrigins": origins,
                    # PUT: the parts of multipart uploads (their ETag read by the page)
                    "AllowedMethods": ["POST", "PUT"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag", "Location"],
                    "MaxAgeSeconds": 3600,
                }
            ]
        }
        try:
            self._client.put_bucket_cors(Bucket=self.bucket, CORSConfiguration=rules)
        except Exception as error:
            raise _translate(error, self.bucket) from error
