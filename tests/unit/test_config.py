from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123"


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "db.sqlite3"), **extra}


def test_defaults(tmp_path):
    s = load_settings(env(tmp_path), dotenv=None)
    assert s.tz_name == "Asia/Shanghai" and s.default_language == "zh" and s.operator_ids == frozenset()
    assert (tmp_path / "secret.key").read_text() == s.secret_key.decode()  # generated once, then reused
    assert load_settings(env(tmp_path), dotenv=None).secret_key == s.secret_key


@pytest.mark.parametrize("name,value,needle", [
    ("BOT_TOKEN", "", "BOT_TOKEN"),
    ("BOT_TOKEN", "not-a-token", "BOT_TOKEN"),
    ("TIMEZONE", "Mars/Olympus", "TIMEZONE"),
    ("OPERATOR_IDS", "12,abc", "OPERATOR_IDS"),
    ("DEFAULT_LANGUAGE", "fr", "DEFAULT_LANGUAGE"),
    ("SECRET_KEY", "short", "SECRET_KEY"),
    ("TELEGRAM_API_URL", "ftp://x", "TELEGRAM_API_URL"),
    ("DATABASE_URL", "mysql://x@localhost/db", "DATABASE_URL"),
])
def test_bad_value_names_the_variable(tmp_path, name, value, needle):
    with pytest.raises(ConfigError) as err:
        load_settings(env(tmp_path, **{name: value}), dotenv=None)
    assert err.value.variable == needle and str(err.value).startswith(needle + ":")


def test_database_url_selects_postgresql_and_its_absence_the_sqlite_file(tmp_path):
    url = "postgresql://bot:pw@127.0.0.1:5432/xuexi"
    assert load_settings(env(tmp_path, DATABASE_URL=url), dotenv=None).database == url
    assert load_settings(env(tmp_path), dotenv=None).database == tmp_path / "db.sqlite3"


def test_database_path_that_is_a_directory(tmp_path):
    with pytest.raises(ConfigError, match="^DATABASE_PATH"):
        load_settings(env(tmp_path, DATABASE_PATH=str(tmp_path)), dotenv=None)


def test_dotenv_is_read_and_environment_wins(tmp_path):
    dot = tmp_path / ".env"
    dot.write_text(f'BOT_TOKEN="{TOKEN}"\nOPERATOR_IDS=1, 2\nTIMEZONE=Europe/Berlin\n')
    s = load_settings({"DATABASE_PATH": str(tmp_path / "x.db"), "TIMEZONE": "Asia/Tokyo"}, dotenv=dot)
    assert s.bot_token == TOKEN and s.operator_ids == {1, 2} and s.tz_name == "Asia/Tokyo"


def test_cli_prints_one_line_for_bad_config(tmp_path, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TIMEZONE", "Nowhere/Land")
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["configuration error: TIMEZONE: unknown time zone 'Nowhere/Land' (e.g. Asia/Shanghai)"]
