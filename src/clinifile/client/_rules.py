"""The API's rules, for both clients: URLs, the q[] syntax, error mapping, retries."""

from __future__ import annotations

import random
import re
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from clinifile.client.errors import (
    AuthenticationFailed,
    ClinifileError,
    ConnectionFailed,
    InvalidUpload,
    NotFound,
    ProcessingFailed,
    Quarantined,
    QuotaExceeded,
    RateLimited,
    ServerError,
    ValidationFailed,
)

DEFAULT_USER_AGENT = "clinifile-python (https://github.com/clinifile)"
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
        raise ServerError(
            f"server error {status}: {text}",
            _seconds(response.headers.get("retry-after")),
            status=status,
            body=body,
        )
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
        jittered = random.uniform(0, min(self.cap, self.base * 2**attempt))
        if isinstance(error, ServerError) and error.retry_after is not None:
            # a server that says how long its outage lasts (a database restarting) is waited
            # for at least that long, so the attempts outlast it
            return max(jittered, min(self.cap, error.retry_after))
        return jittered


def _seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (its HTTP-date form is not used by clinifile)."""
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _unknown_host(error: BaseException) -> bool:
    """The resolver said the name does not exist (not: it could not ask right now)."""
    return any(
        isinstance(cause, socket.gaierror) and cause.errno == socket.EAI_NONAME
        for cause in _causes(error)
    )


def retryable(error: Exception) -> bool:
    """Connection errors (but an unknown host: asking again gets the same answer), 5xx, 429."""
    if isinstance(error, httpx.TransportError):
        return not _unknown_host(error)
    return isinstance(error, ServerError | RateLimited)


def connection_failed(error: httpx.TransportError) -> ConnectionFailed:
    """What a connection error means, naming the server and what to check."""
    try:
        url = error.request.url
        where = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"
    except RuntimeError:  # an error raised before its request was made
        where = "the server"
    if _unknown_host(error):
        why = "its host name is not known"
    elif any(isinstance(cause, ConnectionRefusedError) for cause in _causes(error)):
        why = "the connection was refused"
    elif isinstance(error, httpx.TimeoutException):
        why = "it did not answer in time"
    else:
        why = f"{type(error).__name__}: {error}"
    return ConnectionFailed(
        f"cannot reach {where} ({why}); check the base URL and that the server is running there"
    )


def raise_if_never_processed(record: dict[str, Any]) -> None:
    """Quarantined or ProcessingFailed when the record's processing_state (a clinifile
    extra) says its file will never be served; nothing while it is still being processed,
    or when the server does not say (Cliniko)."""
    state = record.get("processing_state")
    if state not in ("failed", "quarantined"):
        return
    reason = record.get("processing_error") or f"processing {state}"
    name = f"attachment {record.get('id')}"
    if state == "quarantined":
        raise Quarantined(f"{name} is quarantined: {reason}", record)
    raise ProcessingFailed(f"{name} could not be processed: {reason}", record)
