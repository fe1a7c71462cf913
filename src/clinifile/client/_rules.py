"""What the sync and async clients share: URLs, the q[] syntax, error mapping, retries."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import httpx

from clinifile.client.errors import (
    AuthenticationFailed,
    ClinifileError,
    InvalidUpload,
    NotFound,
    QuotaExceeded,
    RateLimited,
    ServerError,
    UploadCancelled,
    ValidationFailed,
)

DEFAULT_SHARD = "au1"
_SHARD = re.compile(r"-([a-z]+[0-9]+)$")
OPERATORS = ("!=", ">=", "<=", "~~", "!?", "=", ">", "<", "~", "?", "*")


def base_url_for_key(api_key: str) -> str:
    """Cliniko's rule: the key's suffix names its shard (`-uk1`); none means au1."""
    match = _SHARD.search(api_key)
    shard = match.group(1) if match else DEFAULT_SHARD
    return f"https://api.{shard}.cliniko.com/v1"


def api_base(base_url: str | None, api_key: str) -> str:
    """The API root ending in /v1, from an explicit base URL (clinifile) or the key."""
    if base_url is None:
        return base_url_for_key(api_key)
    base = base_url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


def q_filter(field: str, value: Any) -> str:
    """One `q[]` value. value: a plain value (=), a list (= a,b,c), or a string that starts
    with an operator (">=100", "~letter", "?")."""
    if isinstance(value, bool):
        return f"{field}:={'true' if value else 'false'}"
    if isinstance(value, list | tuple | set):
        return f"{field}:=" + ",".join(str(v) for v in value)
    text = str(value)
    if isinstance(value, str) and text.startswith(OPERATORS):
        return f"{field}:{text}"
    return f"{field}:={text}"


def query_params(
    filters: Mapping[str, Any] | None = None,
    *,
    sort: str | None = None,
    per_page: int | None = None,
    raw_filters: Iterable[str] = (),
) -> list[tuple[str, str]]:
    params = [("q[]", q_filter(k, v)) for k, v in (filters or {}).items()]
    params += [("q[]", f) for f in raw_filters]
    if sort:
        params.append(("sort", sort))
    if per_page:
        params.append(("per_page", str(per_page)))
    return params


def _message(response: httpx.Response) -> tuple[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300], None
    if isinstance(body, dict):
        return str(body.get("message", response.reason_phrase)), body
    return response.reason_phrase, body


def raise_for(response: httpx.Response) -> None:
    """Turns an API error answer into the client's typed error."""
    if response.is_success or response.is_redirect:
        return
    status = response.status_code
    text, body = _message(response)
    if status == 401:
        raise AuthenticationFailed(
            f"{text} — check the API key (and that base_url names its server)",
            status=status,
            body=body,
        )
    if status == 404:
        raise NotFound(f"{text}: {response.request.url.path}", status=status, body=body)
    if status == 422:
        errors = dict((body or {}).get("errors", {}))
        if "temp_attachment_url" in errors:
            raise InvalidUpload(
                "the upload was refused: it is not one this server issued for this patient, "
                "or it is already registered; upload the file again",
                errors,
                status=status,
                body=body,
            )
        if "base" in errors:
            raise QuotaExceeded(errors["base"], errors, status=status, body=body)
        detail = "; ".join(f"{k} {v}" for k, v in errors.items())
        raise ValidationFailed(f"{text}: {detail}", errors, status=status, body=body)
    if status == 429:
        retry_after = float(response.headers.get("retry-after", "1") or 1)
        raise RateLimited(text, retry_after, status=status, body=body)
    if status >= 500:
        raise ServerError(f"server error {status}: {text}", status=status, body=body)
    raise ClinifileError(f"{status}: {text}", status=status, body=body)


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff for idempotent steps: connection errors, 5xx, 429."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 20.0

    def delay(self, attempt: int, error: Exception) -> float:
        if isinstance(error, RateLimited):
            return min(self.cap * 3, error.retry_after)
        return random.uniform(0, min(self.cap, self.base * 2**attempt))


def retryable(error: Exception) -> bool:
    return isinstance(error, httpx.TransportError | ServerError | RateLimited)


def cancellable(
    progress: Callable[[int], None] | None, cancel: threading.Event | None
) -> Callable[[int], None] | None:
    """A progress callback that stops the upload (UploadCancelled) once cancel is set."""
    if cancel is None:
        return progress

    def report(count: int) -> None:
        if cancel.is_set():
            raise UploadCancelled("the upload was cancelled; it was not registered")
        if progress is not None:
            progress(count)

    return report


class ProgressReader:
    """A file wrapper that reports bytes read (the multipart body streams from it)."""

    def __init__(self, raw: IO[bytes], callback: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._callback = callback

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        if chunk and self._callback:
            self._callback(len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def __iter__(self) -> Any:
        while chunk := self.read(256 * 1024):
            yield chunk


def s3_outcome(response: httpx.Response) -> str:
    """ "ok", "expired" (ask for a fresh presigned post), or raises for other refusals."""
    if response.status_code in (200, 201, 204):
        return "ok"
    text = response.text
    if response.status_code == 403 and "expired" in text.lower():
        return "expired"
    if "EntityTooLarge" in text:
        raise QuotaExceeded(
            "the object store refused the file as too large for this account's remaining "
            "storage or the size limit",
            {"base": "too large"},
            status=response.status_code,
        )
    if response.status_code >= 500:
        raise ServerError(f"object store error {response.status_code}", status=response.status_code)
    raise ClinifileError(
        f"the object store refused the upload ({response.status_code}): {text[:200]}",
        status=response.status_code,
    )


def upload_url(post: Mapping[str, Any], name: str) -> str:
    """Step 3's upload_url: the presigned post's URL plus the key the store gave the file."""
    return str(post["url"]) + str(post["fields"]["key"]).replace("${filename}", name)


def register_body(patient_id: int | str, url: str, description: str | None) -> dict[str, str]:
    body = {"patient_id": str(patient_id), "upload_url": url}
    if description is not None:
        body["description"] = description
    return body


def created_since_now() -> dict[str, Any]:
    """A filter for records created from (a little before) now: finds a registration whose
    answer was lost, when a retried create is refused as already used."""
    since = datetime.now(UTC) - timedelta(seconds=2)
    return {"created_at": ">=" + since.strftime("%Y-%m-%dT%H:%M:%SZ")}
