"""The three-step upload of API.md against the real SeaweedFS, then processing and reading."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from clinifile.runtime import Runtime
from tests import samples
from tests.factories import Api, Tenant, make_tenant, s3_post, upload_url
from tests.objects import list_keys


def test_presign_returns_sigv4_post_for_the_patients_temp_prefix(api: Api, tenant: Tenant) -> None:
    post = api.presign(tenant)
    bucket = api.runtime.settings.region("au1").bucket
    assert post["url"].endswith(f"/{bucket}/")
    fields = post["fields"]
    prefix = f"{tenant.account_id}/patients/{tenant.patient_id}/attachments/temp/"
    assert fields["key"].startswith(prefix)
    assert fields["key"].endswith("/${filename}")
    temp_id = fields["key"][len(prefix) :].split("/")[0]
    assert len(temp_id) >= 32  # a 128-bit nonce plus its MAC
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert fields["x-amz-credential"].endswith("/ap-southeast-2/s3/aws4_request")
    assert fields["success_action_status"] == "201"
    assert fields["acl"] == "private"
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"bucket": bucket} in conditions
    assert ["starts-with", "$key", fields["key"].removesuffix("${filename}")] in conditions
    assert ["content-length-range", 1, 5 * 1024**3] in conditions
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 3500 < (expires - datetime.now(UTC)).total_seconds() <= 3600


def test_upload_registers_pending_attachment(api: Api, tenant: Tenant) -> None:
    post = api.presign(tenant)
    stored = s3_post(post, "referral.pdf", samples.pdf())
    assert stored.status_code == 201
    assert "<Key>" in stored.text
    response = api.register(tenant, upload_url(post, "referral.pdf"), description="Referral")
    assert response.status_code == 201
    record = response.json()
    assert response.headers["location"] == record["links"]["self"]
    assert record["processing_completed"] is False
    assert record["description"] == "Referral"
    for field in ("filename", "content_type", "size", "processed_at", "content"):
        assert record[field] is None
    assert record["patient"]["links"]["self"].endswith(f"/v1/patients/{tenant.patient_id}")
    assert record["id"].isdigit()


def test_processing_completes_and_download_returns_same_bytes(api: Api, tenant: Tenant) -> None:
    content = samples.pdf("exact bytes")
    record = api.upload(tenant, "referral.pdf", content)
    assert api.process_all() == 1
    done = api.get(tenant, record["id"])
    assert done["processing_completed"] is True
    assert done["filename"] == "referral.pdf"
    assert done["content_type"] == "application/pdf"
    assert done["size"] == len(content)
    assert done["processed_at"].endswith("Z")
    assert done["content"]["links"]["self"].endswith(
        f"/v1/patient_attachments/{record['id']}/content"
    )
    download = api.download(tenant, record["id"])
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''referral.pdf"
    assert download.headers["content-type"] == "application/pdf"


def test_processing_moves_the_object_to_its_permanent_key(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    record = api.upload(tenant, "scan.png", samples.png())
    api.process_all()
    store = runtime.store("au1")
    keys = [o.key for o in list_keys(store, f"{tenant.account_id}/")]
    folder = f"{tenant.account_id}/patients/{tenant.patient_id}/attachments/{record['id']}/"
    # the upload is gone from its temp key; beside the file, only its previews
    assert keys == [
        folder + "preview/large.webp",
        folder + "preview/small.webp",
        folder + "scan.png",
    ]


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        ("letter.pdf", samples.pdf(), "application/pdf"),
        ("xray.png", samples.png(), "image/png"),
        ("notes.txt", samples.TEXT, "text/plain"),
        ("report.pdf", samples.png(), "image/png"),  # misleading extension
        ("photo.png", samples.TEXT, "text/plain"),  # text dressed as an image
        ("no-extension", samples.pdf(), "application/pdf"),
        ("data.csv", b"a,b\n1,2\n", "text/csv"),
    ],
)
def test_content_type_comes_from_the_bytes(
    api: Api, tenant: Tenant, filename: str, content: bytes, expected: str
) -> None:
    record = api.upload(tenant, filename, content)
    api.process_all()
    assert api.get(tenant, record["id"])["content_type"] == expected


def test_register_accepts_percent_encoded_upload_url(api: Api, tenant: Tenant) -> None:
    post = api.presign(tenant)
    name = "Überweisung (1).pdf"
    assert s3_post(post, name, samples.pdf()).status_code == 201
    encoded = post["url"] + quote(post["fields"]["key"].replace("${filename}", name), safe="")
    assert "%2F" in encoded
    response = api.register(tenant, encoded)
    assert response.status_code == 201, response.text
    api.process_all()
    done = api.get(tenant, response.json()["id"])
    assert done["filename"] == name
    download = api.download(tenant, done["id"])
    assert download.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''%C3%9Cberweisung%20%281%29.pdf"
    )


def test_a_file_named_with_a_percent_sign_that_encodes_no_utf8_registers(
    api: Api, tenant: Tenant
) -> None:
    """A name such as "50%ff.pdf" is not an encoding: it registers as sent, or encoded."""
    for name, encode in (("50%ff.pdf", False), ("report %c3.pdf", True)):
        post = api.presign(tenant)
        assert s3_post(post, name, samples.pdf()).status_code == 201
        url = upload_url(post, name)
        if encode:
            url = post["url"] + quote(post["fields"]["key"].replace("${filename}", name), safe="")
        response = api.register(tenant, url)
        assert response.status_code == 201, response.text
        api.process_all()
        assert api.get(tenant, response.json()["id"])["filename"] == name
        assert api.download(tenant, response.json()["id"]).content == samples.pdf()


def test_register_accepts_raw_unicode_upload_url(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "Überweisung (1).pdf", samples.pdf())
    api.process_all()
    assert api.get(tenant, record["id"])["filename"] == "Überweisung (1).pdf"


def test_one_presigned_post_carries_several_uploads(api: Api, tenant: Tenant) -> None:
    post = api.presign(tenant)
    for name in ("a.pdf", "b.pdf"):
        assert s3_post(post, name, samples.pdf(name)).status_code == 201
        assert api.register(tenant, upload_url(post, name)).status_code == 201
    assert api.process_all() == 2


def test_content_before_processing_is_409(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    response = api.client.get(
        f"/v1/patient_attachments/{record['id']}/content", auth=tenant.auth, follow_redirects=False
    )
    assert response.status_code == 409
    assert "processed" in response.json()["message"]


def test_presign_for_unknown_archived_or_foreign_patient_is_404(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    archived = api.client.post(f"/v1/patients/{tenant.patient_id}/archive", auth=tenant.auth)
    assert archived.status_code == 204
    for pid in (tenant.patient_id, other_tenant.patient_id, 999999, "abc"):
        response = api.client.get(f"/v1/patients/{pid}/attachment_presigned_post", auth=tenant.auth)
        assert response.status_code == 404, pid
        assert response.json() == {"message": "Not found"}


def test_lists_show_the_accounts_and_the_patients_attachments(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    first = api.upload(tenant, "a.pdf", samples.pdf())
    other = make_tenant(runtime, name="Other")
    api.upload(other, "b.pdf", samples.pdf())
    everything = api.client.get("/v1/patient_attachments", auth=tenant.auth).json()
    assert [r["id"] for r in everything["patient_attachments"]] == [first["id"]]
    assert everything["total_entries"] == 1
    assert everything["links"]["self"].endswith("/v1/patient_attachments")
    per_patient = api.client.get(
        f"/v1/patients/{tenant.patient_id}/patient_attachments", auth=tenant.auth
    ).json()
    assert [r["id"] for r in per_patient["patient_attachments"]] == [first["id"]]


def test_list_pages_follow_next_links(api: Api, tenant: Tenant) -> None:
    ids = [api.upload(tenant, f"{i}.txt", b"x" * (i + 1))["id"] for i in range(5)]
    seen: list[str] = []
    url: str | None = "/v1/patient_attachments?per_page=2"
    while url:
        body = api.client.get(url, auth=tenant.auth).json()
        assert body["total_entries"] == 5
        seen += [r["id"] for r in body["patient_attachments"]]
        url = body["links"].get("next")
    assert seen == ids


def test_registering_uploads_to_uk1_uses_the_uk1_bucket(api: Api, runtime: Runtime) -> None:
    uk = make_tenant(runtime, region="uk1")
    post = api.presign(uk)
    assert post["url"].endswith(f"/{runtime.settings.region('uk1').bucket}/")
    assert post["fields"]["x-amz-credential"].endswith("/eu-west-2/s3/aws4_request")
    record = api.upload(uk, "a.pdf", samples.pdf())
    api.process_all()
    assert list_keys(runtime.store("uk1"), f"{uk.account_id}/")
    assert not list_keys(runtime.store("au1"), f"{uk.account_id}/")
    assert api.download(uk, record["id"]).content == samples.pdf()
