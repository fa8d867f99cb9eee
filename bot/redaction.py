"""RNV-3 where text is written down on its way through: an ID number a person types is never kept.

Every update is stored in the inbox before it is confirmed (bot/polling.py, bot/webhook.py), and a
person answering /verify types their ID number into one. `update_body` is what both store: the
update's JSON with every string that may hold an ID number redacted (services/idcard.py's
redact_id_numbers: any run of 15 digits or more, however spelled), whatever step the person is at.
The update object itself, with the true text, is handled in memory only; an update read back from
the inbox after a restart carries the redaction mark, and the ID-number step asks for the number
again (errors.rnv.not_kept).

`RedactingRecords` does the same for log lines (the message, its arguments, a traceback's text),
whatever logger writes them; `install_log_redaction` puts it in place (the composition root does).
"""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from bot.services.idcard import redact_id_numbers

if TYPE_CHECKING:
    from aiogram.types import Update


def redact_json(value: Any) -> Any:
    """A JSON value (dicts, lists, strings, numbers) with every string redacted."""
    if isinstance(value, str):
        return redact_id_numbers(value)
    if isinstance(value, dict):
        return {key: redact_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    return value


def update_body(update: Update) -> str:
    """The update as the inbox keeps it: Telegram's field names, compact JSON (as pydantic writes
    it), every string redacted. The same update gives the same text (the inbox tells a delivery
    again from another update under a used id by it)."""
    body = update.model_dump_json(exclude_unset=True, by_alias=True)
    data = json.loads(body)
    hidden = redact_json(data)
    return body if hidden == data else json.dumps(hidden, ensure_ascii=False, separators=(",", ":"))


class RedactingRecords:
    """A log record factory: the record it makes has its message already formatted and redacted, and
    a traceback's text too (a handler's error may quote what the person typed)."""

    def __init__(self, make: Any) -> None:
        self.make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format is the logging module's to report
            return record
        record.msg, record.args = redact_id_numbers(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact_id_numbers(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact_id_numbers(record.stack_info)
        return record


def install_log_redaction() -> None:
    """Every log record from now on is redacted (once: installing again changes nothing)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, RedactingRecords):
        logging.setLogRecordFactory(RedactingRecords(current))
