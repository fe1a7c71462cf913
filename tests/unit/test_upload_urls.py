from __future__ import annotations

from urllib.parse import quote

import pytest

from clinifile.services.uploads import (
    InvalidUploadUrl,
    issue_temp_id,
    temp_id_is_valid,
    upload_key,
)

SECRET = b"s" * 32
BUCKET = "http://127.0.0.1:9000/clinifile-au1/"


def _key(temp_id: str, name: str = "a.pdf", account: int = 1, patient: int = 2) -> str:
    return f"{account}/patients/{patient}/attachments/temp/{temp_id}/{name}"


def test_temp_ids_are_bound_to_account_and_patient() -> None:
    temp_id = issue_temp_id(SECRET, 1, 2)
    assert len(temp_id) == 64
    assert temp_id_is_valid(SECRET, 1, 2, temp_id)
    assert not temp_id_is_valid(SECRET, 1, 3, temp_id)
    assert not temp_id_is_valid(SECRET, 9, 2, temp_id)
    assert not temp_id_is_valid(b"other secret", 1, 2, temp_id)
    assert not temp_id_is_valid(SECRET, 1, 2, temp_id.upper())
    assert issue_temp_id(SECRET, 1, 2) != temp_id


def test_upload_key_accepts_raw_and_encoded_keys() -> None:
    key = _key(issue_temp_id(SECRET, 1, 2), "Ü (1).pdf")
    assert upload_key(BUCKET + key, BUCKET, SECRET, 1, 2) == [key]
    assert key in upload_key(BUCKET + quote(key, safe=""), BUCKET, SECRET, 1, 2)
    assert key in upload_key(quote(BUCKET + key, safe=""), BUCKET, SECRET, 1, 2)


def test_a_raw_name_with_a_percent_sign_is_tried_as_sent_first() -> None:
    key = _key(issue_temp_id(SECRET, 1, 2), "100%25.pdf")
    assert upload_key(BUCKET + key, BUCKET, SECRET, 1, 2)[0] == key


@pytest.mark.parametrize("name", ["%ff.pdf", "%80", "50%c3.txt"])
def test_a_name_whose_percent_signs_decode_to_no_utf8_is_the_name_as_sent(name: str) -> None:
    """Such a name was not percent-encoded: the store holds the file under it, as sent."""
    key = _key(issue_temp_id(SECRET, 1, 2), name)
    assert upload_key(BUCKET + key, BUCKET, SECRET, 1, 2) == [key]
    # percent-encoded, it is found too
    assert upload_key(BUCKET + quote(key, safe="/"), BUCKET, SECRET, 1, 2)[-1] == key


@pytest.mark.parametrize(
    "url",
    [
        "",
        "garbage",
        "http://127.0.0.1:9000/clinifile-uk1/1/patients/2/attachments/temp/x/a.pdf",
        BUCKET + "1/patients/2/attachments/temp/" + "0" * 64 + "/a.pdf",
        BUCKET + "1/patients/2/attachments/temp/{id}/../a.pdf",
        BUCKET + "1/patients/2/attachments/temp/{id}/sub/a.pdf",
        BUCKET + "1/patients/2/attachments/temp/{id}/",
        BUCKET + "1/patients/2/attachments/temp/{id}/..",
        BUCKET + "1/patients/2/attachments/temp/{id}/a\x00.pdf",
        BUCKET + "1/patients/2/attachments/temp/{id}/" + "a" * 1100,
        BUCKET + "1/patients/3/attachments/temp/{id}/a.pdf",
        BUCKET + "2/patients/2/attachments/temp/{id}/a.pdf",
        BUCKET + "1%252Fpatients%252F2%252Fattachments%252Ftemp%252F{id}%252Fa.pdf",
    ],
)
def test_upload_key_refuses(url: str) -> None:
    temp_id = issue_temp_id(SECRET, 1, 2)
    with pytest.raises(InvalidUploadUrl):
        upload_key(url.replace("{id}", temp_id), BUCKET, SECRET, 1, 2)
