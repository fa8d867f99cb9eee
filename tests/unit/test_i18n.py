import re
from pathlib import Path

import pytest

from bot.i18n import LOCALES_DIR, I18n, MissingKey, Raw, load_catalogue


def test_same_files_in_every_language():
    names = {d.name: sorted(f.name for f in d.glob("*.toml")) for d in LOCALES_DIR.iterdir() if d.is_dir()}
    assert set(names) == {"zh", "en"} and names["zh"] == names["en"]


def test_every_key_exists_in_zh_and_en():
    zh = load_catalogue(LOCALES_DIR / "zh")
    en = load_catalogue(LOCALES_DIR / "en")
    assert sorted(set(zh) - set(en)) == []
    assert sorted(set(en) - set(zh)) == []


def test_placeholders_match_between_languages():
    zh = load_catalogue(LOCALES_DIR / "zh")
    en = load_catalogue(LOCALES_DIR / "en")
    field = re.compile(r"{(\w+)")
    for key in zh:
        assert set(field.findall(zh[key])) == set(field.findall(en[key])), key


def test_every_key_used_in_code_exists():
    """Literal keys passed to _("…") / i18n.t(…, "…") in bot/ are all in the catalogue."""
    zh = load_catalogue(LOCALES_DIR / "zh")
    used = set()
    for path in Path("bot").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\b_\(\s*"([a-z_]+(?:\.[a-z0-9_]+)+)"', text))
        used |= set(re.findall(r'\.t\([^,()]+,\s*"([a-z_]+(?:\.[a-z0-9_]+)+)"', text))
    missing = sorted(k for k in used if k not in zh)
    assert missing == []


def test_params_are_escaped_unless_raw():
    i18n = I18n()
    assert "&lt;script&gt;" in i18n.t("zh", "start.welcome", name="<script>")
    assert "<i>x</i>" in i18n.t("zh", "start.welcome", name=Raw("<i>x</i>"))


def test_language_pick_and_missing_key():
    i18n = I18n()
    assert i18n.pick(None, "en-US") == "en"
    assert i18n.pick("fr", None) == "zh"
    assert i18n.pick("zh-hans") == "zh"
    with pytest.raises(MissingKey):
        i18n.t("zh", "no.such.key")
