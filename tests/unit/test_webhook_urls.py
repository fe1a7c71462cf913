"""Where a webhook may go: every address a URL resolves to must be public, unless the
operator allows private ones; malformed URLs are refused with what is wrong."""

from __future__ import annotations

import pytest

from clinifile.errors import UnsafeWebhookUrl
from clinifile.services.webhook_urls import resolve


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.9.9.9:8080/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fd12:3456::1]/", "unique-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://100.64.0.1/", "not a public address"),
        ("http://224.0.0.1/", "multicast"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 as one number
    ],
)
def test_non_public_addresses_are_refused(url: str, kind: str) -> None:
    with pytest.raises(UnsafeWebhookUrl, match=kind):
        resolve(url, allow_private=False)
    assert resolve(url, allow_private=True).addresses


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://93.184.215.14/", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("https://", "no host"),
        ("https://u:p@93.184.215.14/", "user name or password"),
        ("https://93.184.215.14:99999/", "not a valid URL"),
        ("https://93.184.215.14/a b", "spaces"),
        ("https://no-such-host.invalid/", "does not resolve"),
    ],
)
def test_malformed_urls_are_refused(url: str, problem: str) -> None:
    with pytest.raises(UnsafeWebhookUrl, match=problem):
        resolve(url, allow_private=True)


def test_a_public_address_passes() -> None:
    target = resolve("https://93.184.215.14:8443/hook?x=1", allow_private=False)
    assert (target.scheme, target.host, target.port) == ("https", "93.184.215.14", 8443)
    assert [str(a) for a in target.addresses] == ["93.184.215.14"]
