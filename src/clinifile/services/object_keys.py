"""Where objects live in a region's bucket.

<account>/patients/<patient>/attachments/temp/<temp id>/<file name>   uploads
<account>/patients/<patient>/attachments/<attachment>/<file name>      permanent
<account>/patients/<patient>/attachments/<attachment>/preview/<size>.webp its previews
<account>/patients/<patient>/attachments/quarantine/<attachment>/<name> quarantined: never
                                                                       served by any URL
"""

from __future__ import annotations


def temp_prefix(account_id: int, patient_id: int, temp_id: str) -> str:
    return f"{account_id}/patients/{patient_id}/attachments/temp/{temp_id}/"


def patient_temp_root(account_id: int, patient_id: int) -> str:
    return f"{account_id}/patients/{patient_id}/attachments/temp/"


def permanent_key(account_id: int, patient_id: int, attachment_id: int, filename: str) -> str:
    return f"{account_id}/patients/{patient_id}/attachments/{attachment_id}/{filename}"


def quarantine_key(account_id: int, patient_id: int, attachment_id: int, filename: str) -> str:
    return f"{account_id}/patients/{patient_id}/attachments/quarantine/{attachment_id}/{filename}"


def preview_prefix(permanent: str) -> str:
    """The previews' folder beside a permanent file ("preview_" when the file itself is
    named "preview", so no object is ever both a file and a folder)."""
    folder, _, name = permanent.rpartition("/")
    return f"{folder}/{'preview_' if name == 'preview' else 'preview'}/"


def preview_keys(prefix: str | None) -> list[str]:
    return [f"{prefix}{size}.webp" for size in ("small", "large")] if prefix else []
