"""Demo people and data for `xuexi-bot sandbox --demo`."""
from __future__ import annotations

from typing import Any

DEMO_USERS: list[dict[str, Any]] = [
    {"id": 100001, "first_name": "张", "last_name": "伟", "username": "zhangwei", "language_code": "zh",
     "phone": "+8613800000001"},
    {"id": 100002, "first_name": "李", "last_name": "娜", "username": "lina", "language_code": "zh",
     "phone": "+8613800000002"},
    {"id": 100003, "first_name": "Wang", "last_name": "Fang", "username": "wangfang", "language_code": "en",
     "phone": "+8613800000003"},
    {"id": 100004, "first_name": "赵", "last_name": "磊", "language_code": "zh", "phone": "+8613800000004"},
]


async def seed_demo_data(app: Any) -> None:
    """Data the bot side needs for a demo; later features add organisations, questions, etc."""
    return None
