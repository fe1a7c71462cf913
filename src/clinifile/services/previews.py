"""A completed attachment's preview, as a client asks for it: a short-lived presigned GET,
audited like a download (a preview shows patient data)."""

from __future__ import annotations

from clinifile.db import attachments as attachments_db
from clinifile.domain.states import AttachmentState
from clinifile.errors import ProcessingNotComplete, found
from clinifile.previews.render import kind_of
from clinifile.runtime import Runtime
from clinifile.services import audit
from clinifile.services.api_keys import Principal
from clinifile.services.attachments import _not_served
from clinifile.services.audit import Action

SIZES = ("small", "large")


def none_message(attachment_id: int, reason: str | None) -> str:
    why = reason or "its type gets none"
    return f"patient attachment {attachment_id} has no preview: {why}"


def preview_url(
    runtime: Runtime, principal: Principal, attachment_id: int, size: str
) -> tuple[str | None, str]:
    """(a presigned GET, "") or, when the file has no preview, (None, why not). NotFound
    for an attachment of another account or none; ProcessingNotComplete before processing
    completes, while quarantined, or while its preview is still to be made."""
    with runtime.transaction() as session:
        attachment = found(
            attachments_db.get(session, principal.account_id, attachment_id),
            "patient attachment",
        )
        if attachment.state != AttachmentState.COMPLETED or attachment.permanent_key is None:
            raise ProcessingNotComplete(_not_served(attachment))
        if attachment.preview_state is None:
            if kind_of(attachment.content_type, attachment.filename) is None:
                return None, none_message(attachment_id, None)
            raise ProcessingNotComplete(
                f"the preview of patient attachment {attachment_id} is not made yet; "
                "retry when the record's preview is not null"
            )
        if attachment.preview_state != "ready" or attachment.preview_prefix is None:
            return None, none_message(attachment_id, attachment.preview_reason)
        audit.record(session, principal, Action.PREVIEW, attachment)
    url = runtime.store(attachment.region).presign_get(
        f"{attachment.preview_prefix}{size}.webp",
        content_disposition="inline",
        content_type="image/webp",
        expires_in=runtime.settings.download_expires_seconds,
    )
    return url, ""
