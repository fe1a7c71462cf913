"""The audit trail: who (key and user) did what (action) to which attachment and patient,
when, and from which address. Events are written in the transaction of the change they
record, so a change without its event cannot be committed."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from clinifile.db import audit as audit_db
from clinifile.db.models import Attachment, AuditEvent
from clinifile.domain.queries import ListQuery
from clinifile.errors import found
from clinifile.runtime import Runtime
from clinifile.services.api_keys import Principal

USER_AGENT_MAX = 255


class Action(StrEnum):
    CREATE = "patient_attachment.create"
    UPDATE = "patient_attachment.update"
    ARCHIVE = "patient_attachment.archive"
    UNARCHIVE = "patient_attachment.unarchive"
    DOWNLOAD = "patient_attachment.download"
    # a preview shows patient data too (clinifile addition)
    PREVIEW = "patient_attachment.preview"
    # not served: infected or a blocked type (by the worker or a rescan)
    QUARANTINE = "patient_attachment.quarantine"
    # an operator let a quarantined file be served (the reason they gave)
    RELEASE = "patient_attachment.release"
    # an operator removed a quarantined file's bytes
    DELETE = "patient_attachment.delete"


def record(session: Session, principal: Principal, action: Action, attachment: Attachment) -> None:
    audit_db.append(
        session,
        account_id=principal.account_id,
        action=action.value,
        api_key_id=principal.key.id,
        user_id=principal.user_id,
        patient_id=attachment.patient_id,
        attachment_id=attachment.id,
        ip_address=principal.ip_address,
        user_agent=(principal.user_agent or "")[:USER_AGENT_MAX] or None,
    )


def record_system(
    session: Session,
    action: Action,
    *,
    account_id: int,
    patient_id: int,
    attachment_id: int,
    actor: str,
    reason: str | None,
) -> None:
    """An event no API key caused: the worker's, or an operator's at the command line.
    actor (who, on which machine) goes where a request's user agent goes."""
    audit_db.append(
        session,
        account_id=account_id,
        action=action.value,
        api_key_id=None,
        user_id=None,
        patient_id=patient_id,
        attachment_id=attachment_id,
        ip_address=None,
        user_agent=actor[:USER_AGENT_MAX],
        reason=reason,
    )


def get(runtime: Runtime, principal: Principal, event_id: int) -> AuditEvent:
    with runtime.sessions() as session:
        return found(audit_db.get(session, principal.account_id, event_id), "audit event")


def page(runtime: Runtime, principal: Principal, query: ListQuery) -> tuple[list[AuditEvent], int]:
    with runtime.sessions() as session:
        return audit_db.page(session, principal.account_id, query)
