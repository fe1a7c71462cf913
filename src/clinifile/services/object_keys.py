"""Where objects live in a region's bucket.

<account>/patients/<patient>/attachments/temp/<temp id>/<file name>   uploads
<account>/patients/<patient>/attachments/<attachment>/<file name>      permanent
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
