"""API keys, stored as SHA-256 hashes only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinifile.db.models import ApiKey


def create(session: Session, *, account_id: int, user_id: int, key_hash: str) -> ApiKey:
    key = ApiKey(account_id=account_id, user_id=user_id, key_hash=key_hash)
    session.add(key)
    session.flush()
    return key


def find_active(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalars(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    ).first()
