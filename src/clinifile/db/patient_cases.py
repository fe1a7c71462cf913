"""Patient cases and the attachments each holds: all their SQL, always within one account."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from clinifile.db import attachments as attachments_db
from clinifile.db import listing
from clinifile.db.models import Attachment, PatientCase, PatientCaseAttachment
from clinifile.db.types import utcnow
from clinifile.domain.queries import ListQuery, names_archived


def create(
    session: Session,
    *,
    account_id: int,
    patient_id: int,
    name: str,
    issue_date: date | None,
    notes: str | None,
) -> PatientCase:
    now = utcnow()
    case = PatientCase(
        account_id=account_id,
        patient_id=patient_id,
        name=name,
        issue_date=issue_date,
        notes=notes,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    return case


def get(session: Session, account_id: int, case_id: int) -> PatientCase | None:
    """The case of this account (archived included), or None."""
    return session.scalars(
        select(PatientCase).where(PatientCase.id == case_id, PatientCase.account_id == account_id)
    ).first()


def update_fields(session: Session, case: PatientCase, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(case, name, value)
    case.updated_at = utcnow()
    session.flush()


def attachments_of_patient(
    session: Session, account_id: int, patient_id: int, attachment_ids: list[int]
) -> set[int]:
    """Those of attachment_ids that are attachments of this patient of this account."""
    return set(
        session.scalars(
            select(Attachment.id).where(
                Attachment.id.in_(attachment_ids),
                Attachment.account_id == account_id,
                Attachment.patient_id == patient_id,
            )
        )
    )


def set_attachments(session: Session, case_id: int, attachment_ids: list[int]) -> None:
    """The case holds exactly these attachments (the caller checked them)."""
    session.execute(delete(PatientCaseAttachment).where(PatientCaseAttachment.case_id == case_id))
    session.add_all(
        PatientCaseAttachment(case_id=case_id, attachment_id=a)
        for a in dict.fromkeys(attachment_ids)
    )
    session.flush()


def attachment_ids(session: Session, case_ids: list[int]) -> dict[int, list[int]]:
    """Each case's attachment ids, in ascending order."""
    held: dict[int, list[int]] = defaultdict(list)
    rows = session.execute(
        select(PatientCaseAttachment.case_id, PatientCaseAttachment.attachment_id)
        .where(PatientCaseAttachment.case_id.in_(case_ids))
        .order_by(PatientCaseAttachment.attachment_id)
    )
    for case_id, attachment_id in rows:
        held[case_id].append(attachment_id)
    return held


COLUMNS: dict[str, Any] = {
    "id": PatientCase.id,
    "patient_id": PatientCase.patient_id,
    "name": PatientCase.name,
    "issue_date": PatientCase.issue_date,
    "created_at": PatientCase.created_at,
    "updated_at": PatientCase.updated_at,
    "archived_at": PatientCase.archived_at,
}


def page(
    session: Session, account_id: int, *, patient_id: int | None, list_query: ListQuery
) -> tuple[list[PatientCase], int]:
    query = select(PatientCase).where(PatientCase.account_id == account_id)
    if patient_id is not None:
        query = query.where(PatientCase.patient_id == patient_id)
    if not names_archived(list_query.filters):
        query = query.where(PatientCase.archived_at.is_(None))
    return listing.page(session, query, COLUMNS, PatientCase.id, list_query)


def page_attachments(
    session: Session, account_id: int, case_id: int, list_query: ListQuery
) -> tuple[list[Attachment], int]:
    """A page of the case's attachments, filtered and sorted like every attachment list."""
    query = (
        select(Attachment)
        .join(PatientCaseAttachment, PatientCaseAttachment.attachment_id == Attachment.id)
        .where(PatientCaseAttachment.case_id == case_id, Attachment.account_id == account_id)
    )
    if not names_archived(list_query.filters):
        query = query.where(Attachment.archived_at.is_(None))
    return listing.page(session, query, attachments_db.COLUMNS, Attachment.id, list_query)
