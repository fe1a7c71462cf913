"""Patients: create, read, page, archive and unarchive; and step 1 of the upload flow, a
presigned post for a patient that exists and is not archived."""

from __future__ import annotations

from datetime import date

from clinifile.db import patients as patients_db
from clinifile.db.models import Patient
from clinifile.db.patients import AccountStorage
from clinifile.db.types import utcnow
from clinifile.domain.queries import ListQuery
from clinifile.errors import NotFound, found
from clinifile.runtime import Runtime
from clinifile.services import uploads
from clinifile.services.api_keys import Principal
from clinifile.storage.base import PresignedPost


def create(
    runtime: Runtime,
    principal: Principal,
    *,
    first_name: str,
    last_name: str,
    email: str | None = None,
    date_of_birth: date | None = None,
) -> Patient:
    with runtime.transaction() as session:
        return patients_db.create(
            session,
            account_id=principal.account_id,
            first_name=first_name,
            last_name=last_name,
            email=email,
            date_of_birth=date_of_birth,
        )


def get(runtime: Runtime, principal: Principal, patient_id: int) -> Patient:
    """The patient of the caller's account, archived included; NotFound otherwise."""
    with runtime.sessions() as session:
        return found(patients_db.get(session, principal.account_id, patient_id), "patient")


def page(runtime: Runtime, principal: Principal, query: ListQuery) -> tuple[list[Patient], int]:
    with runtime.sessions() as session:
        return patients_db.page(session, principal.account_id, query)


def set_archived(
    runtime: Runtime, principal: Principal, patient_id: int, *, archived: bool
) -> Patient:
    """Archives or unarchives the patient; doing it twice changes nothing the second time."""
    with runtime.transaction() as session:
        patient = found(patients_db.get(session, principal.account_id, patient_id), "patient")
        if (patient.archived_at is not None) != archived:
            patient.archived_at = utcnow() if archived else None
            patient.updated_at = utcnow()
        return patient


def active_patients_account(
    runtime: Runtime, account_id: int, patient_id: int
) -> AccountStorage | None:
    """The rule every upload step keeps: files are added only for a patient of the account
    that exists and is not archived. Returns the account's storage figures read now, or
    None when the rule does not hold."""
    return patients_db.account_of_active_patient(runtime.read_engine, account_id, patient_id)


def presign(runtime: Runtime, principal: Principal, patient_id: int) -> PresignedPost:
    """Step 1: a presigned post for an active patient (NotFound otherwise), limited by the
    file size limit and the account's remaining storage."""
    account = active_patients_account(runtime, principal.account_id, patient_id)
    if account is None:
        raise NotFound("patient")
    return uploads.presign(
        runtime.settings, runtime.store(account.region), runtime.secret, account, patient_id
    )
