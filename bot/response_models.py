"""aiogram reads every answer of the Bot API as `Response[method.__returning__]` (BaseSession.check_response),
a pydantic generic model parametrised per call. Pydantic keeps the parametrised classes in a weak cache
(pydantic._internal._generics: a WeakValueDictionary), and nothing else holds them: a class is garbage
after the call, the next collection of the young generation frees it (classes live in reference cycles),
and the next call builds it again, schema and validator included (about 5 ms of CPU each on the 2-CPU
machine). Under bench/load.py that build was a fifth of the bot's CPU, most of it on the edits and
callback answers of people's presses.

`KeepResponseModels`, a request middleware on the bot's session (bot/app.build_bot), holds a reference to
each method's response class the first time the method is called, so that later calls find it in
pydantic's cache (a dictionary look-up). At most one class per Bot API method.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

_KEPT: dict[type[TelegramMethod[Any]], type[Response[Any]]] = {}  # the process's, as pydantic's cache is


def keep_response_model(method_type: type[TelegramMethod[Any]]) -> type[Response[Any]]:
    """The class aiogram parses `method_type`'s answers with, held for the life of the process."""
    kept = _KEPT.get(method_type)
    if kept is None:
        kept = _KEPT[method_type] = Response[method_type.__returning__]  # type: ignore[name-defined]
    return kept


class KeepResponseModels(BaseRequestMiddleware):
    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        if type(method) not in _KEPT:
            keep_response_model(type(method))
        return await make_request(bot, method)
