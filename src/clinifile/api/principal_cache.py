"""Who a key belongs to, remembered for a few seconds, so that a request does not pay for
two queries before it starts its own work. Only what does not change under a key is used
from here (account id, region, user, key id); storage figures are always read fresh.
A revoked key keeps working in a process for at most the cache's lifetime."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from clinifile.services.api_keys import Principal


class PrincipalCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry is None:
                return None
            expires, principal = entry
            if expires < time.monotonic():
                del self._entries[key_hash]
                return None
            self._entries.move_to_end(key_hash)
            return principal

    def put(self, key_hash: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[key_hash] = (time.monotonic() + self.ttl, principal)
            self._entries.move_to_end(key_hash)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
