"""RNV: real-name verification for admins. The plain ID number never leaves this function."""
from __future__ import annotations

from bot.clock import Clock
from bot.errors import DomainError
from bot.services.idcard import id_hash, mask_id, validate_id_number, validate_real_name
from bot.store import Conflict, Store


def check_real_name(raw: str) -> str:
    return validate_real_name(raw)


async def verify(store: Store, clock: Clock, secret: bytes, user_id: int, real_name: str, raw_id: str) -> str:
    """Stores the keyed hash and masked form; returns the masked form."""
    number = validate_id_number(raw_id, clock.today())
    masked = mask_id(number)
    try:
        await store.set_verification(user_id, real_name, id_hash(secret, number), masked, clock.now().isoformat())
    except Conflict:
        raise DomainError("rnv.id_taken") from None
    return masked
