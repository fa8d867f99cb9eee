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


def test_webhook_settings_and_their_generated_secret(tmp_path):
    assert load_settings(env(tmp_path), dotenv=None).webhook is None  # long polling: nothing generated
    assert not (tmp_path / "webhook.secret").exists()
    s = load_settings(env(tmp_path, WEBHOOK_URL="https://bot.example.org/"), dotenv=None, webhook=True)
    assert s.webhook is not None
    assert s.webhook.url == "https://bot.example.org/telegram/webhook"
    assert (s.webhook.host, s.webhook.port, s.webhook.path, s.webhook.max_connections) == (
        "127.0.0.1", 8081, "/telegram/webhook", 40)
    assert (tmp_path / "webhook.secret").read_text() == s.webhook.secret  # generated once, then reused
    assert len(s.webhook.secret) >= 32 and s.webhook.secret.replace("-", "").replace("_", "").isalnum()
    again = load_settings(env(tmp_path, WEBHOOK_URL="https://bot.example.org", WEBHOOK_PATH="/tg/hook",
                              WEBHOOK_HOST="0.0.0.0", WEBHOOK_PORT="9000", WEBHOOK_MAX_CONNECTIONS="100"),
                          dotenv=None, webhook=True)
    assert again.webhook is not None and again.webhook.secret == s.webhook.secret
    assert (again.webhook.url, again.webhook.host, again.webhook.port, again.webhook.max_connections) == (
        "https://bot.example.org/tg/hook", "0.0.0.0", 9000, 100)
    given = load_settings(env(tmp_path, WEBHOOK_URL="https://b.example.org", WEBHOOK_SECRET="A-given_secret-0123"),
                          dotenv=None, webhook=True)
    assert given.webhook is not None and given.webhook.secret == "A-given_secret-0123"


@pytest.mark.parametrize("extra,needle", [
    ({}, "WEBHOOK_URL"),
    ({"WEBHOOK_URL": "http://bot.example.org"}, "WEBHOOK_URL"),  # Telegram posts only to https
    ({"WEBHOOK_URL": "bot.example.org"}, "WEBHOOK_URL"),
    ({"WEBHOOK_URL": "https://b.example.org", "WEBHOOK_SECRET": "has spaces in it!!"}, "WEBHOOK_SECRET"),
    ({"WEBHOOK_URL": "https://b.example.org", "WEBHOOK_SECRET": "short"}, "WEBHOOK_SECRET"),
    ({"WEBHOOK_URL": "https://b.example.org", "WEBHOOK_PORT": "70000"}, "WEBHOOK_PORT"),
    ({"WEBHOOK_URL": "https://b.example.org", "WEBHOOK_PATH": "no-slash"}, "WEBHOOK_PATH"),
    ({"WEBHOOK_URL": "https://b.example.org", "WEBHOOK_MAX_CONNECTIONS": "0"}, "WEBHOOK_MAX_CONNECTIONS"),
])
def test_bad_webhook_value_names_the_variable(tmp_path, extra, needle):
    with pytest.raises(ConfigError) as err:
        load_settings(env(tmp_path, **extra), dotenv=None, webhook=True)
    assert err.value.variable == needle and str(err.value).startswith(needle + ":")


def test_webhook_over_http_is_allowed_with_a_local_bot_api_server(tmp_path):
    s = load_settings(env(tmp_path, WEBHOOK_URL="http://127.0.0.1:8081", TELEGRAM_API_URL="http://127.0.0.1:8080"),
                      dotenv=None, webhook=True)
    assert s.webhook is not None and s.webhook.url == "http://127.0.0.1:8081/telegram/webhook"


def test_cli_run_webhook_without_its_url_prints_one_line(tmp_path, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.delenv("WEBHOOK_URL", raising=False)
    assert main(["run", "--webhook"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [("configuration error: WEBHOOK_URL: is not set (the public https:// address Telegram posts "
                    "updates to)")]
