"""Patients, always looked up within one account."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinifile.db.models import Patient
from clinifile.db.types import utcnow


def create(
    session: Session,
    *,
    account_id: int,
    first_name: str,
    last_name: str,
    email: str | None = None,
    date_of_birth: date | None = None,
) -> Patient:
    now = utcnow()
    patient = Patient(
        account_id=account_id,
        first_name=first_name,
        last_name=last_name,
        email=email,
        date_of_birth=date_of_birth,
        created_at=now,
        updated_at=now,
    )
    session.add(patient)
    session.flush()
    return patient


def get(session: Session, account_id: int, patient_id: int) -> Patient | None:
    """The patient of this account (archived included), or None."""
    return session.scalars(
        select(Patient).where(Patient.id == patient_id, Patient.account_id == account_id)
    ).first()


def page(
    session: Session, account_id: int, *, offset: int, limit: int
) -> tuple[list[Patient], int]:
    where = (Patient.account_id == account_id, Patient.archived_at.is_(None))
    total = session.scalar(select(func.count()).select_from(Patient).where(*where)) or 0
    rows = session.scalars(
        select(Patient).where(*where).order_by(Patient.id).offset(offset).limit(limit)
    ).all()
    return list(rows), total
