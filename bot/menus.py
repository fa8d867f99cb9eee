"""Each person's command menu follows their roles (SPEC "Commands"): one comparison, two callers.

A write that may change people's roles or language arms a `menu` due row for everyone it touches
(bot/repositories/users.py: menus_due), whoever's update made it: a hand-over changes two menus, a
dissolution the whole admin group's. The sweep runs `menu_due_handler` for each, which compares the
person's roles now with the key stored with their menu and sets the menu only when they differ, so a
change reaches each person once. Every update also compares its sender's menu (bot/middlewares.py),
which catches what no write announced (a menu set by an older version); the operator ids of the
configuration are armed at start (`arm_at_start`)."""
from __future__ import annotations

import logging
from datetime import datetime

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import I18n
from bot.middlewares import load_actor
from bot.repositories.due import DueItem
from bot.repositories.users import MENU_DUE
from bot.scheduler import DueHandler
from bot.services import users
from bot.store import Store
from bot.ui.menu import sync_menu

log = logging.getLogger("bot.menus")

__all__ = ["MENU_DUE", "arm_at_start", "menu_due_handler"]


def menu_due_handler(bot: Bot, store: Store, i18n: I18n, settings: Settings) -> DueHandler:
    async def refresh(item: DueItem, _now: datetime) -> None:
        user = await store.get_user(int(item.ref))
        if user is None:  # never wrote to the bot: their first update sets it
            return
        try:
            await sync_menu(bot, store, i18n, await load_actor(store, settings, user))
        except (TelegramBadRequest, TelegramForbiddenError) as exc:  # retrying would not help
            log.warning("menu of %s not set: %s", user.id, exc.message)
    return refresh


async def arm_at_start(store: Store, clock: Clock, settings: Settings) -> None:
    await users.arm_operator_menus(store, clock, settings.operator_ids)
