"""The object requests every upload makes (HEAD, GET, CopyObject, DELETE), sent without the
boto3 client's per-call machinery.

A boto3 call validates its parameters, runs its event hooks, serializes the request and
parses the answer into a dict: here about 0.8 ms of CPU a call beside the request itself,
and the worker makes three for every file (GET, COPY, DELETE), more than the rest of the
job's Python. These are the same requests, signed by botocore's own SigV4 signer with the
client's credentials and sent over the client's own HTTP session (its connection pool,
timeouts, proxies and certificates); what is read of an answer is a few headers and, for an
error or a CopyObject, one small XML document. A job's three requests took 2.4 ms of CPU
through boto3 and 1.1 ms so (bench/profile_notes.md).

Retries follow boto3's standard mode, which the client is configured with: up to three
attempts when the store cannot be reached or answers 429 or 5xx, with exponential backoff
and full jitter. A GET is retried only until its body starts.
"""

from __future__ import annotations

import random
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Generator
from typing import Any
from urllib.parse import quote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.exceptions import BotoCoreError
from urllib3.exceptions import HTTPError as URLLib3Error

from clinifile.errors import StorageUnavailable
from clinifile.storage.s3_errors import answered, translate

ATTEMPTS = 3
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 20.0


class Answer:
    """An answer to a request: its status, headers and (unless streamed) body."""

    def __init__(self, response: AWSResponse) -> None:
        self.status: int = response.status_code
        self.headers: Any = response.headers
        self._response = response

    @property
    def body(self) -> bytes:
        return bytes(self._response.content)

    def chunks(self, key: str, chunk_size: int) -> Generator[bytes, None, None]:
        """A streamed answer's body in chunks; the connection goes back to the pool once it
        is all read, and is closed if the reader stops early."""
        raw = self._response.raw
        finished = False
        try:
            yield from raw.stream(chunk_size, decode_content=False)
            finished = True
        except (URLLib3Error, OSError) as error:
            raise StorageUnavailable(
                f"object store broke off {key!r}: {type(error).__name__}"
            ) from error
        finally:
            if finished:
                raw.release_conn()
            else:
                raw.close()

    def close(self) -> None:
        self._response.raw.close()


def error_code(body: bytes) -> str:
    """The Code of an S3 error document, or "" when the body is none."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return ""
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "Code":
            return element.text or ""
    return ""


def element_text(body: bytes, name: str) -> str | None:
    """The text of the first element called name (any namespace) of an XML answer."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    if root.tag.rsplit("}", 1)[-1] == "Error":
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == name:
            return element.text
    return None


class SignedRequests:
    """Signed requests to one bucket, over a boto3 client's session and credentials."""

    def __init__(self, client: Any, bucket_url: str) -> None:
        self._bucket_url = bucket_url
        self._session = client._endpoint.http_session
        self._credentials = client._request_signer._credentials
        self._region = client.meta.region_name

    def url(self, key: str) -> str:
        return self._bucket_url + quote(key, safe="/~")

    def send(
        self, method: str, key: str, headers: dict[str, str] | None = None, *, stream: bool = False
    ) -> Answer:
        """The store's answer to one request; retried as boto3's standard mode does.
        StorageUnavailable when the store could not be reached on any attempt."""
        url = self.url(key)
        for attempt in range(1, ATTEMPTS + 1):
            request = AWSRequest(method=method, url=url, headers=dict(headers or {}))
            S3SigV4Auth(self._credentials.get_frozen_credentials(), "s3", self._region).add_auth(
                request
            )
            prepared = request.prepare()
            prepared.stream_output = stream
            try:
                answer = Answer(self._session.send(prepared))
            except BotoCoreError as error:
                if attempt == ATTEMPTS:
                    raise translate(error, key) from error
            else:
                if answer.status not in RETRIED_STATUSES or attempt == ATTEMPTS:
                    return answer
                answer.close()
            time.sleep(min(MAX_BACKOFF_SECONDS, random.random() * 2 ** (attempt - 1)))
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def refusal(answer: Answer, key: str) -> Exception:
        """The clinifile error for an answer that is not a success."""
        return answered(answer.status, error_code(answer.body) or str(answer.status), key)
