"""SECRET_KEY keys the ID-number hashes (duplicate detection), the invite tokens of join links and their
printed QR posters, and certification links: data made with one key is useless with another. The
database keeps a fingerprint of the key it was made with (an HMAC of a fixed text: it tells keys apart
and gives nothing of the key away); a bot, a restore or a copy started with another key refuses with
one line instead of silently breaking them. The key cannot be rotated: the ID numbers it hashed are
not kept, so nothing could be hashed again under a new one."""
from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

from bot.repositories.deployment import KEY_FINGERPRINT


class KeyMismatch(Exception):
    """The running key is not the one the data was made with: one line for the operator."""


class _Facts(Protocol):
    async def keep_deployment_fact(self, name: str, value: str) -> str: ...


def fingerprint(secret: bytes) -> str:
    return hmac.new(secret, b"xuexi-bot: the fingerprint of SECRET_KEY", hashlib.sha256).hexdigest()[:16]


def mismatch(recorded: str | None, secret: bytes, what: str) -> KeyMismatch | None:
    """The refusal when `what` (the database, the backup at ...) was made with another key than `secret`;
    None when it was made with this one or says nothing (made before fingerprints were kept)."""
    if recorded is None or hmac.compare_digest(recorded, fingerprint(secret)):
        return None
    return KeyMismatch(f"{what} was made with another SECRET_KEY (fingerprint {recorded}; the key in use has "
                       f"{fingerprint(secret)}): ID numbers, invite links, QR posters and certification links "
                       "would no longer match. Use the key it was made with (SECRET_KEY, or the secret.key "
                       "beside the database)")


async def check_key(store: _Facts, secret: bytes) -> None:
    """At start: records the key's fingerprint in a database that has none (new, or made before they were
    kept) and raises KeyMismatch when the database's is another key's."""
    recorded = await store.keep_deployment_fact(KEY_FINGERPRINT, fingerprint(secret))
    refusal = mismatch(recorded, secret, "the database")
    if refusal is not None:
        raise refusal
