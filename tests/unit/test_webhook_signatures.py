"""clinifile.webhooks signs as the Standard Webhooks specification says: the standardwebhooks
package verifies what it signs, and its verify refuses what a receiver must refuse."""

from __future__ import annotations

import json
import time

import pytest
import standardwebhooks

from clinifile import webhooks
from clinifile.errors import WebhookVerificationError

BODY = json.dumps({"type": "patient_attachment.processed", "data": {"id": "1"}}).encode()


def test_standardwebhooks_verifies_what_clinifile_signs() -> None:
    secret = webhooks.new_secret()
    headers = webhooks.headers(secret, "msg_1", BODY)
    assert standardwebhooks.Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_clinifile_verifies_what_standardwebhooks_signs() -> None:
    secret = webhooks.new_secret()
    now = int(time.time())
    from datetime import UTC, datetime

    signature = standardwebhooks.Webhook(secret).sign(
        "msg_2", datetime.fromtimestamp(now, UTC), BODY.decode()
    )
    headers = {"Webhook-Id": "msg_2", "Webhook-Timestamp": str(now), "Webhook-Signature": signature}
    assert webhooks.verify(BODY, headers, secret) == json.loads(BODY)


def test_any_of_several_signatures_may_match() -> None:
    secret, old = webhooks.new_secret(), webhooks.new_secret()
    headers = webhooks.headers(secret, "msg_3", BODY)
    stale = webhooks.headers(old, "msg_3", BODY, int(headers["webhook-timestamp"]))
    headers["webhook-signature"] = f"{stale['webhook-signature']} {headers['webhook-signature']}"
    assert webhooks.verify(BODY, headers, secret)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h, b: (h, b + b" "), "no v1 signature"),
        (lambda h, b: ({**h, "webhook-id": "msg_other"}, b), "no v1 signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "required"),
        (lambda h, b: ({**h, "webhook-timestamp": str(int(time.time()) - 3600)}, b), "from now"),
        (lambda h, b: ({**h, "webhook-timestamp": str(int(time.time()) + 3600)}, b), "from now"),
        (lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), "UNIX seconds"),
        (lambda h, b: ({**h, "webhook-signature": "v1,AAAA"}, b), "no v1 signature"),
    ],
)
def test_verify_refuses_a_changed_delivery(change, message) -> None:  # type: ignore[no-untyped-def]
    secret = webhooks.new_secret()
    headers, body = change(webhooks.headers(secret, "msg_4", BODY), BODY)
    with pytest.raises(WebhookVerificationError, match=message):
        webhooks.verify(body, headers, secret)


def test_verify_refuses_another_secret_and_a_malformed_one() -> None:
    headers = webhooks.headers(webhooks.new_secret(), "msg_5", BODY)
    with pytest.raises(WebhookVerificationError, match="no v1 signature"):
        webhooks.verify(BODY, headers, webhooks.new_secret())
    with pytest.raises(WebhookVerificationError, match="base64"):
        webhooks.verify(BODY, headers, "whsec_!!!")
