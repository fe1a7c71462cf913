"""Request ids and JSON log lines (log_context): each answer carries X-Request-ID (the
client's when plausible, else a new one), and the worker logs an attachment's processing
under the id of the request that registered it. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from clinifile.log_context import JsonLines, WithContext
from clinifile.redaction import RedactSecrets
from tests import samples
from tests.factories import Api, Tenant, s3_post, upload_url


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """clinifile's log lines in the JSON format, at INFO, while the test runs."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    handler.addFilter(RedactSecrets())
    handler.addFilter(WithContext())
    logger = logging.getLogger("clinifile")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _parsed(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_plausible_request_id_is_returned_as_given(api: Api, tenant: Tenant) -> None:
    answer = api.client.get(
        "/v1/patients", auth=tenant.auth, headers={"X-Request-ID": "lb-7f3a:42"}
    )
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == "lb-7f3a:42"


@pytest.mark.parametrize(
    "sent", [None, "", "a" * 129, "two words", "<script>", "ünïcode", "x;drop"]
)
def test_a_missing_or_implausible_request_id_is_replaced_by_a_new_one(
    api: Api, tenant: Tenant, sent: str | None
) -> None:
    headers = {} if sent is None else {"X-Request-ID": sent.encode()}
    answers = [
        api.client.get("/v1/patients/999999999", auth=tenant.auth, headers=headers)
        for _ in range(2)
    ]
    ids = [a.headers["x-request-id"] for a in answers]
    assert all(a.status_code == 404 for a in answers)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids
    assert ids[0] != ids[1]


def test_the_worker_logs_an_attachment_under_its_registrations_request_id(
    api: Api, tenant: Tenant, json_lines: io.StringIO
) -> None:
    post = api.presign(tenant)
    assert s3_post(post, "letter.pdf", samples.pdf()).status_code == 201
    created = api.client.post(
        "/v1/patient_attachments",
        auth=tenant.auth,
        headers={"X-Request-ID": "upload-0001"},
        json={"patient_id": str(tenant.patient_id), "upload_url": upload_url(post, "letter.pdf")},
    )
    assert created.status_code == 201, created.text
    assert created.headers["x-request-id"] == "upload-0001"
    attachment_id = int(created.json()["id"])

    api.process_all()

    lines = _parsed(json_lines)
    processed = [line for line in lines if "processed" in line["message"]]
    assert processed, lines
    assert all(
        (line["request_id"], line["attachment_id"]) == ("upload-0001", attachment_id)
        for line in processed
    )
    assert {"time", "level", "logger", "message"} <= processed[0].keys()


def test_json_lines_keep_secrets_out(json_lines: io.StringIO) -> None:
    key = "ab" * 32 + "-au1"
    logging.getLogger("clinifile.test").warning("a key %s and X-Amz-Signature=deadbeef", key)
    (line,) = _parsed(json_lines)
    assert key not in line["message"] and "deadbeef" not in line["message"]
    assert line["level"] == "warning" and line["request_id"] is None
