"""What `xuexi-bot run` says about itself at start: where each setting came from (a `.env` in the
working directory is otherwise merged in silently), secrets masked; LOG_LEVEL; log times with their
UTC offset (bot/startup.py)."""
from __future__ import annotations

import logging
import re

import pytest

from bot.config import ConfigError
from bot.startup import LocalTimeFormatter, describe_sources, log_level

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123"


def test_the_start_says_which_setting_came_from_the_environment_the_env_file_or_the_default(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("OPERATOR_IDS=111,222\nSECRET_KEY=from-the-file-0123456789\nTIMEZONE=Asia/Urumqi\n"
                      "WEBHOOK_SECRET=\n")
    environ = {"BOT_TOKEN": TOKEN, "TIMEZONE": "Asia/Shanghai", "HOME": "/root",
               "DATABASE_URL": "postgresql://xuexi:pa55word@db.internal:5432/xuexi"}
    line = describe_sources(environ, dotenv, overrides={"DATABASE_URL": "postgresql://xuexi:other@db2/xuexi"})
    assert line.startswith(
        "configuration from the command line: DATABASE_URL=postgresql://xuexi:***@db2/xuexi; "
        "from the environment: BOT_TOKEN=123456:***, TIMEZONE=Asia/Shanghai; "
        f"from {dotenv.resolve()}: OPERATOR_IDS=111,222, SECRET_KEY=***; defaults: DATABASE_PATH, ")
    assert "WEBHOOK_SECRET," in line.partition("defaults:")[2]  # empty in .env: the default
    assert "pa55word" not in line and "other" not in line and "from-the-file" not in line and "ABCdef" not in line
    assert "HOME" not in line


def test_log_level_and_the_time_zone_of_log_times():
    assert log_level({}) == logging.INFO and log_level({"LOG_LEVEL": "warning"}) == logging.WARNING
    with pytest.raises(ConfigError) as err:
        log_level({"LOG_LEVEL": "LOUD"})
    assert str(err.value) == "LOG_LEVEL: 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR"
    record = logging.LogRecord("bot", logging.INFO, __file__, 1, "hello", None, None)
    text = LocalTimeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s").format(record)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d INFO bot: hello", text), text
