"""Patient cases, the part that touches attachments (Cliniko's routes): a case of one
patient names some of that patient's attachments."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from clinifile.db import patient_cases as cases_db
from clinifile.db import patients as patients_db
from clinifile.db.models import Attachment, PatientCase
from clinifile.db.types import utcnow
from clinifile.domain.queries import ListQuery
from clinifile.errors import ValidationFailed, found
from clinifile.runtime import Runtime
from clinifile.services.api_keys import Principal

# a case and the ids of the attachments it holds
Case = tuple[PatientCase, list[int]]


def _checked_attachments(
    session: Session, principal: Principal, patient_id: int, attachment_ids: list[int]
) -> list[int]:
    """ValidationFailed naming the first id that is not an attachment of this patient of
    the caller's account."""
    mine = cases_db.attachments_of_patient(
        session, principal.account_id, patient_id, attachment_ids
    )
    for attachment_id in attachment_ids:
        if attachment_id not in mine:
            raise ValidationFailed(
                {
                    "patient_attachment_ids": f"patient attachment {attachment_id} is not an "
                    f"attachment of patient {patient_id}"
                }
            )
    return attachment_ids


def create(
    runtime: Runtime,
    principal: Principal,
    *,
    patient_id: int,
    name: str,
    issue_date: date | None,
    notes: str | None,
    attachment_ids: list[int],
) -> Case:
    """A case of the patient (NotFound for another account's or an unknown patient)."""
    with runtime.transaction() as session:
        found(patients_db.get(session, principal.account_id, patient_id), "patient")
        checked = _checked_attachments(session, principal, patient_id, attachment_ids)
        case = cases_db.create(
            session,
            account_id=principal.account_id,
            patient_id=patient_id,
            name=name,
            issue_date=issue_date,
            notes=notes,
        )
        cases_db.set_attachments(session, case.id, checked)
        return case, sorted(set(checked))


def _case(session: Session, principal: Principal, case_id: int) -> PatientCase:
    return found(cases_db.get(session, principal.account_id, case_id), "patient case")


def get(runtime: Runtime, principal: Principal, case_id: int) -> Case:
    with runtime.sessions() as session:
        case = _case(session, principal, case_id)
        return case, cases_db.attachment_ids(session, [case.id])[case.id]


def page(
    runtime: Runtime, principal: Principal, query: ListQuery, *, patient_id: int | None
) -> tuple[list[Case], int]:
    with runtime.sessions() as session:
        if patient_id is not None:
            found(patients_db.get(session, principal.account_id, patient_id), "patient")
        rows, total = cases_db.page(
            session, principal.account_id, patient_id=patient_id, list_query=query
        )
        held = cases_db.attachment_ids(session, [row.id for row in rows])
        return [(row, held[row.id]) for row in rows], total


def update(
    runtime: Runtime,
    principal: Principal,
    case_id: int,
    *,
    fields: dict[str, object],
    attachment_ids: list[int] | None,
) -> Case:
    """Changes the fields given (name, issue_date, notes); attachment_ids, when given,
    replaces the attachments the case holds."""
    with runtime.transaction() as session:
        case = _case(session, principal, case_id)
        if attachment_ids is not None:
            checked = _checked_attachments(session, principal, case.patient_id, attachment_ids)
            cases_db.set_attachments(session, case.id, checked)
        cases_db.update_fields(session, case, **fields)
        return case, cases_db.attachment_ids(session, [case.id])[case.id]


def archive(runtime: Runtime, principal: Principal, case_id: int) -> None:
    with runtime.transaction() as session:
        case = _case(session, principal, case_id)
        if case.archived_at is None:
            cases_db.update_fields(session, case, archived_at=utcnow())


def unarchive(runtime: Runtime, principal: Principal, case_id: int) -> Case:
    with runtime.transaction() as session:
        case = _case(session, principal, case_id)
        if case.archived_at is not None:
            cases_db.update_fields(session, case, archived_at=None)
        return case, cases_db.attachment_ids(session, [case.id])[case.id]


def attachments(
    runtime: Runtime, principal: Principal, case_id: int, query: ListQuery
) -> tuple[list[Attachment], int]:
    with runtime.sessions() as session:
        _case(session, principal, case_id)
        return cases_db.page_attachments(session, principal.account_id, case_id, query)
