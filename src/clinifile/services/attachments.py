"""Step 3 (register an upload) and everything a client does with an attachment after."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clinifile import log_context, metrics
from clinifile.db import accounts as accounts_db
from clinifile.db import attachments as attachments_db
from clinifile.db import patients as patients_db
from clinifile.db.models import Attachment
from clinifile.db.types import utcnow
from clinifile.domain.queries import ListQuery
from clinifile.domain.states import AttachmentState
from clinifile.errors import ProcessingNotComplete, ValidationFailed, found
from clinifile.runtime import Runtime
from clinifile.services import audit, events, patients
from clinifile.services.api_keys import Principal
from clinifile.services.audit import Action
from clinifile.services.events import EventType
from clinifile.services.filenames import INLINE_TYPES, content_disposition
from clinifile.services.uploads import InvalidUploadUrl, storage_limit_error, upload_key
from clinifile.storage.base import ObjectInfo

log = logging.getLogger(__name__)

INVALID_UPLOAD = {"temp_attachment_url": "is invalid"}


def _find_uploaded_object(
    runtime: Runtime, principal: Principal, patient_id: int, upload_url: str
) -> ObjectInfo:
    account = principal.account
    store = runtime.store(account.region)
    try:
        candidates = upload_key(
            upload_url, store.bucket_url, runtime.secret, account.id, patient_id
        )
    except InvalidUploadUrl as error:
        log.info("refused upload_url for account %s: %s", account.id, error)
        metrics.refused(metrics.INVALID_UPLOAD_URL)
        raise ValidationFailed(INVALID_UPLOAD) from error
    for key in candidates:
        info = store.head(key)
        if info is not None:
            return info
    log.info("refused upload_url for account %s: no such object", account.id)
    metrics.refused(metrics.NO_SUCH_OBJECT)
    raise ValidationFailed(INVALID_UPLOAD)


def create(
    runtime: Runtime,
    principal: Principal,
    *,
    patient_id: int,
    upload_url: str,
    description: str | None,
) -> Attachment:
    """Registers an uploaded object as a pending attachment and reserves its bytes.

    The object is checked (HEAD) before the transaction; inside it, the reservation is one
    conditional UPDATE and the temp key's unique index makes a second registration fail.
    """
    account_id = principal.account_id
    if patients.active_patients_account(runtime, account_id, patient_id) is None:
        metrics.refused(metrics.UNKNOWN_PATIENT)
        raise ValidationFailed({"patient_id": "does not exist"})
    info = _find_uploaded_object(runtime, principal, patient_id, upload_url)
    try:
        with runtime.transaction() as session:
            if not accounts_db.reserve(session, account_id, info.size):
                account = accounts_db.get(session, account_id)
                assert account is not None
                metrics.refused(metrics.STORAGE_LIMIT)
                raise storage_limit_error(account)
            attachment = attachments_db.insert(
                session,
                account_id=account_id,
                patient_id=patient_id,
                user_id=principal.user_id,
                description=description,
                region=principal.account.region,
                temp_key=info.key,
                reserved_bytes=info.size,
                request_id=log_context.request_id.get(),
            )
            audit.record(session, principal, Action.CREATE, attachment)
            events.emit(session, EventType.CREATED, attachment)
            attachments_db.notify_new_work(session)
    except IntegrityError as error:
        # the unique temp_key: this upload already backs an attachment
        metrics.refused(metrics.ALREADY_REGISTERED)
        raise ValidationFailed(INVALID_UPLOAD) from error
    runtime.work_enqueued()
    return attachment


def _attachment(session: Session, principal: Principal, attachment_id: int) -> Attachment:
    """The attachment of the caller's account; NotFound for any other."""
    return found(
        attachments_db.get(session, principal.account_id, attachment_id), "patient attachment"
    )


def get(runtime: Runtime, principal: Principal, attachment_id: int) -> Attachment:
    with runtime.sessions() as session:
        return _attachment(session, principal, attachment_id)


def page(
    runtime: Runtime, principal: Principal, query: ListQuery, *, patient_id: int | None
) -> tuple[list[Attachment], int]:
    with runtime.sessions() as session:
        if patient_id is not None:
            found(patients_db.get(session, principal.account_id, patient_id), "patient")
        return attachments_db.page(
            session, principal.account_id, patient_id=patient_id, list_query=query
        )


def update_description(
    runtime: Runtime, principal: Principal, attachment_id: int, description: str | None
) -> Attachment:
    with runtime.transaction() as session:
        attachment = _attachment(session, principal, attachment_id)
        attachments_db.update_fields(session, attachment, description=description)
        audit.record(session, principal, Action.UPDATE, attachment)
        events.emit(session, EventType.UPDATED, attachment)
        return attachment


def archive(runtime: Runtime, principal: Principal, attachment_id: int) -> None:
    """Archives the attachment (idempotent); its bytes still count against storage."""
    with runtime.transaction() as session:
        attachment = _attachment(session, principal, attachment_id)
        if attachment.archived_at is None:
            attachments_db.update_fields(session, attachment, archived_at=utcnow())
            events.emit(session, EventType.ARCHIVED, attachment)
        audit.record(session, principal, Action.ARCHIVE, attachment)


def unarchive(runtime: Runtime, principal: Principal, attachment_id: int) -> Attachment:
    """Brings an archived attachment back into the lists (idempotent); audited."""
    with runtime.transaction() as session:
        attachment = _attachment(session, principal, attachment_id)
        if attachment.archived_at is not None:
            attachments_db.update_fields(session, attachment, archived_at=None)
            events.emit(session, EventType.UPDATED, attachment)
        audit.record(session, principal, Action.UNARCHIVE, attachment)
        return attachment


def _not_served(attachment: Attachment) -> str:
    """Why the 409: a quarantined file names what the scanner found (or its type)."""
    if attachment.state == AttachmentState.QUARANTINED:
        return (
            f"patient attachment {attachment.id} is quarantined and is not served: "
            f"{attachment.failure_reason}"
        )
    if attachment.state == AttachmentState.FAILED:
        return (
            f"patient attachment {attachment.id} could not be processed and is not served: "
            f"{attachment.failure_reason}"
        )
    return (
        f"patient attachment {attachment.id} is still being processed; "
        "retry when processing_completed is true"
    )


def content_url(
    runtime: Runtime, principal: Principal, attachment_id: int, *, inline: bool = False
) -> str:
    """A short-lived presigned GET of the processed file; the download is audited first.
    inline: served to be shown in the browser, for INLINE_TYPES only (ValidationFailed for
    any other type: a page or a script must never run in the bucket's origin)."""
    with runtime.transaction() as session:
        attachment = _attachment(session, principal, attachment_id)
        if attachment.state != AttachmentState.COMPLETED or attachment.permanent_key is None:
            raise ProcessingNotComplete(_not_served(attachment))
        if inline and attachment.content_type not in INLINE_TYPES:
            raise ValidationFailed(
                {
                    "disposition": "inline is only for PDFs and PNG, JPEG, GIF or WebP images; "
                    f"this file is {attachment.content_type}: download it instead"
                }
            )
        audit.record(session, principal, Action.DOWNLOAD, attachment)
    return runtime.store(attachment.region).presign_get(
        attachment.permanent_key,
        content_disposition=content_disposition(attachment.filename or "file", inline=inline),
        content_type=attachment.content_type or "application/octet-stream",
        expires_in=runtime.settings.download_expires_seconds,
    )
