"""API keys: `<64 hex chars>-<shard>`; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from clinifile.config import Settings
from clinifile.db import accounts as accounts_db
from clinifile.db import keys as keys_db
from clinifile.db import users as users_db
from clinifile.db.models import Account, ApiKey
from clinifile.errors import AuthenticationFailed, found

_SHARD_SUFFIX = re.compile(r"-([a-z]+[0-9]+)$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's account and user, and from where (for the audit trail)."""

    account: Account
    key: ApiKey
    ip_address: str | None = None
    user_agent: str | None = None

    @property
    def account_id(self) -> int:
        return self.account.id

    @property
    def user_id(self) -> int:
        return self.key.user_id


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key(shard: str) -> str:
    return f"{secrets.token_hex(32)}-{shard}"


def shard_of(raw_key: str, default_shard: str) -> str:
    match = _SHARD_SUFFIX.search(raw_key)
    return match.group(1) if match else default_shard


def create_key(session: Session, account: Account, user_id: int | None = None) -> str:
    """A new key acting for user_id (default: the account's first user, its API user); the
    key is returned once and never stored. NotFound when the account has no such user."""
    raw = new_key(account.region)
    if user_id is None:
        user = accounts_db.first_user(session, account.id)
    else:
        user = found(
            users_db.get(session, account.id, user_id),
            f"user {user_id} of account {account.id}",
        )
    keys_db.create(session, account_id=account.id, user_id=user.id, key_hash=hash_key(raw))
    return raw


def authenticate(session: Session, settings: Settings, raw_key: str) -> Principal:
    """The principal of a key; AuthenticationFailed with a message a caller can act on.

    Lookup is by the key's SHA-256 (an index finds it without comparing secrets), and the
    found hash is compared again in constant time.
    """
    if not raw_key:
        raise AuthenticationFailed(
            "Authentication required: send your API key as the "
            "HTTP Basic user name with an empty password"
        )
    served = [r.name for r in settings.regions]
    shard = shard_of(raw_key, settings.default_region)
    if shard not in served:
        raise AuthenticationFailed(
            f"This API key belongs to shard '{shard}', which this server does not serve "
            f"(it serves {', '.join(served)}); use the server of that shard"
        )
    presented = hash_key(raw_key)
    key = keys_db.find_active(session, presented)
    if key is not None and not hmac.compare_digest(key.key_hash, presented):
        key = None
    account = accounts_db.get(session, key.account_id) if key else None
    if key is None or account is None:
        raise AuthenticationFailed("Invalid API key: it is unknown or has been revoked")
    if account.region != shard:
        raise AuthenticationFailed(
            f"This API key names shard '{shard}', but its account lives in "
            f"'{account.region}'; use the key exactly as it was issued"
        )
    return Principal(account=account, key=key)
