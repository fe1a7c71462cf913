"""Previews made by the worker from real files made in the tests (tests/preview_samples):
the pixels are right (bounds, a known colour at a known place, orientation applied), nothing
private is left in them, and the API serves them like content. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PIL import Image

from clinifile.db.models import Attachment
from clinifile.runtime import Runtime
from tests import preview_samples as ps
from tests import samples
from tests.factories import Api, Tenant
from tests.objects import list_keys

RGB = tuple[int, int, int]


def near(pixel: Any, colour: RGB, tolerance: int = 40) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def fetch(api: Api, tenant: Tenant, attachment_id: str, size: str) -> bytes:
    redirect = api.client.get(
        f"/v1/patient_attachments/{attachment_id}/preview?size={size}",
        auth=tenant.auth,
        follow_redirects=False,
    )
    assert redirect.status_code == 303, redirect.text
    answer = httpx.get(redirect.headers["location"], timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/webp"
    return answer.content


def previewed(api: Api, tenant: Tenant, name: str, content: bytes) -> tuple[Image.Image, bytes]:
    """Uploads, processes; returns the large preview (and checks the small one's bound)."""
    record = api.upload(tenant, name, content)
    api.process_all()
    shown = api.get(tenant, record["id"])
    assert shown["processing_completed"] is True
    base = f"http://testserver/v1/patient_attachments/{record['id']}"
    assert shown["preview"] == {"links": {"self": f"{base}/preview"}}
    small = Image.open(io.BytesIO(fetch(api, tenant, record["id"], "small")))
    assert small.format == "WEBP" and max(small.size) <= 320
    raw = fetch(api, tenant, record["id"], "large")
    large = Image.open(io.BytesIO(raw))
    assert large.format == "WEBP" and max(large.size) <= 1600
    # nothing private: no EXIF, XMP or ICC chunk, no DICOM or camera owner's words
    assert not large.getexif() and "icc_profile" not in large.info and "xmp" not in large.info
    for chunk in (b"EXIF", b"XMP ", b"ICCP", b"Secret", ps.PATIENT_ID.encode()):
        assert chunk not in raw
    return large.convert("RGB"), raw


HALVES: dict[str, Callable[[], bytes]] = {
    "a.png": lambda: ps.image_bytes("PNG"),
    "a.gif": lambda: ps.image_bytes("GIF"),
    "a.webp": lambda: ps.image_bytes("WEBP", lossless=True),
    "a.tiff": lambda: ps.image_bytes("TIFF"),
    "a.bmp": lambda: ps.image_bytes("BMP"),
    "a.jpg": lambda: ps.image_bytes("JPEG", quality=95),
    "a.heic": ps.heic,
}


@pytest.mark.parametrize("name", sorted(HALVES))
def test_each_image_kind_gets_previews_with_its_pixels(api: Api, tenant: Tenant, name: str) -> None:
    large, _ = previewed(api, tenant, name, HALVES[name]())
    assert large.size == (800, 400)  # within the bound: never enlarged
    assert near(large.getpixel((100, 200)), ps.RED)
    assert near(large.getpixel((700, 200)), ps.BLUE)


def test_exif_orientation_is_applied_and_no_exif_or_gps_is_kept(api: Api, tenant: Tenant) -> None:
    large, _ = previewed(api, tenant, "phone.jpg", ps.rotated_jpeg_with_gps())
    # turned 90 degrees clockwise: 400 wide, 800 tall, the stored left (red) now on top
    assert large.size == (400, 800)
    assert near(large.getpixel((200, 100)), ps.RED)
    assert near(large.getpixel((200, 700)), ps.BLUE)


def test_a_large_image_is_scaled_to_the_bounds(api: Api, tenant: Tenant) -> None:
    out = io.BytesIO()
    ps.halves(4000, 1000).save(out, format="PNG")
    large, _ = previewed(api, tenant, "wide.png", out.getvalue())
    assert large.size == (1600, 400)
    assert near(large.getpixel((10, 200)), ps.RED) and near(large.getpixel((1590, 200)), ps.BLUE)


def test_a_pdf_gets_its_first_page(api: Api, tenant: Tenant) -> None:
    large, _ = previewed(api, tenant, "referral.pdf", ps.pdf_with_red_square())
    assert max(large.size) == 1600 and large.size[0] < large.size[1]  # A4, portrait
    assert near(large.getpixel((50, 50)), ps.RED)  # the square at the top left
    assert near(large.getpixel((large.width - 50, large.height - 50)), (255, 255, 255))


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_a_dicom_image_is_windowed_and_monochrome1_inverted(
    api: Api, tenant: Tenant, photometric: str
) -> None:
    large, raw = previewed(api, tenant, "xray.dcm", ps.dicom_left_bright(photometric))
    assert large.size == (256, 128)
    bright, dark = (255, 255, 255), (0, 0, 0)
    if photometric == "MONOCHROME1":
        bright, dark = dark, bright
    assert near(large.getpixel((40, 64)), bright) and near(large.getpixel((200, 64)), dark)
    assert ps.PATIENT_NAME.split("^")[0].encode() not in raw


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.90"])
def test_a_compressed_dicom_study_is_decoded(api: Api, tenant: Tenant, syntax: str) -> None:
    """RLE Lossless and JPEG 2000 Lossless, through pylibjpeg's plugins."""
    large, _ = previewed(api, tenant, "ct.dcm", ps.dicom_compressed(syntax))
    assert near(large.getpixel((40, 64)), (255, 255, 255))
    assert near(large.getpixel((200, 64)), (0, 0, 0))


def test_a_multiframe_dicom_study_shows_its_middle_frame(api: Api, tenant: Tenant) -> None:
    large, _ = previewed(api, tenant, "study.dcm", ps.dicom_multiframe(5))
    assert near(large.getpixel((10, 32)), (255, 255, 255))  # only the middle frame's left
    assert near(large.getpixel((54, 32)), (0, 0, 0))


def _row(runtime: Runtime, attachment_id: str) -> Attachment:
    with runtime.sessions() as session:
        row = session.get(Attachment, int(attachment_id))
        assert row is not None
        return row


def test_previews_are_stored_under_the_files_folder(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "a.png", ps.image_bytes("PNG"))
    api.process_all()
    row = _row(api.runtime, record["id"])
    assert row.permanent_key is not None
    folder = row.permanent_key.rsplit("/", 1)[0]
    keys = {o.key for o in list_keys(api.runtime.store("au1"), f"{folder}/")}
    assert keys == {
        row.permanent_key,
        f"{folder}/preview/small.webp",
        f"{folder}/preview/large.webp",
    }


def test_a_file_of_another_kind_has_no_preview_and_answers_404(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "notes.txt", b"plain words\n")
    api.process_all()
    assert api.get(tenant, record["id"])["preview"] is None
    answer = api.client.get(f"/v1/patient_attachments/{record['id']}/preview", auth=tenant.auth)
    assert answer.status_code == 404
    assert "preview" in answer.json()["message"]


def test_preview_before_processing_is_409(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "a.png", ps.image_bytes("PNG"))
    assert record["preview"] is None
    answer = api.client.get(f"/v1/patient_attachments/{record['id']}/preview", auth=tenant.auth)
    assert answer.status_code == 409
    assert "processing_completed" in answer.json()["message"]


def test_redirect_false_answers_the_url_and_the_view_is_audited(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "a.png", ps.image_bytes("PNG"))
    api.process_all()
    answer = api.client.get(
        f"/v1/patient_attachments/{record['id']}/preview?size=small&redirect=false",
        auth=tenant.auth,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["expires_in"] == api.runtime.settings.download_expires_seconds
    assert Image.open(io.BytesIO(httpx.get(body["url"], timeout=30).content)).size == (320, 160)
    events = api.client.get(
        "/v1/audit_events?q[]=action:=patient_attachment.preview", auth=tenant.auth
    ).json()
    assert events["total_entries"] == 1
    assert events["audit_events"][0]["patient_attachment"]["links"]["self"].endswith(record["id"])


@pytest.mark.parametrize(
    "query", ["size=huge", "size=", "size=" + "x" * 5000, "redirect=false&size=SMALL"]
)
def test_a_bad_size_is_refused_with_the_error_shape(api: Api, tenant: Tenant, query: str) -> None:
    record = api.upload(tenant, "a.png", ps.image_bytes("PNG"))
    api.process_all()
    answer = api.client.get(
        f"/v1/patient_attachments/{record['id']}/preview?{query}", auth=tenant.auth
    )
    assert answer.status_code in (400, 422)
    assert "size" in answer.json()["message"]


@pytest.mark.parametrize("attachment_id", ["0", "-1", "abc", "9" * 30, "1%00"])
def test_malformed_ids_are_404(api: Api, tenant: Tenant, attachment_id: str) -> None:
    answer = api.client.get(f"/v1/patient_attachments/{attachment_id}/preview", auth=tenant.auth)
    assert answer.status_code == 404
    assert "message" in answer.json()


def test_another_accounts_preview_is_404_and_not_audited(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    record = api.upload(tenant, "a.png", ps.image_bytes("PNG"))
    api.process_all()
    for query in ("", "?redirect=false", "?size=small"):
        answer = api.client.get(
            f"/v1/patient_attachments/{record['id']}/preview{query}",
            auth=other_tenant.auth,
            follow_redirects=False,
        )
        assert answer.status_code == 404
        assert "location" not in answer.headers and "url" not in answer.json()
    events = api.client.get(
        "/v1/audit_events?q[]=action:=patient_attachment.preview", auth=tenant.auth
    ).json()
    assert events["total_entries"] == 0


def test_a_key_is_required(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "a.png", samples.png())
    answer = api.client.get(f"/v1/patient_attachments/{record['id']}/preview")
    assert answer.status_code == 401
