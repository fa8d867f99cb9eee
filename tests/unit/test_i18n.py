import re
from pathlib import Path

import pytest

from bot.i18n import LOCALES_DIR, I18n, MissingKey, Raw, load_catalogue, placeholders


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
    for key in zh:
        assert placeholders(zh[key]) == placeholders(en[key]), key


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


def test_english_counts_take_their_plural_form():
    """'1 points' reads wrong: counts in the English catalogue choose one/other by CLDR's rules."""
    i18n = I18n()
    assert i18n.t("en", "certify.tree_line", indent="", name="A", mark="✓", members=1) == "A ✓ (1 member)"
    assert i18n.t("en", "certify.tree_line", indent="", name="A", mark="✓", members=2) == "A ✓ (2 members)"
    assert i18n.t("en", "certify.tree_line", indent="", name="A", mark="✓", members=0) == "A ✓ (0 members)"
    assert i18n.t("zh", "certify.tree_line", indent="", name="A", mark="✓", members=1) == "A ✓（1 人）"


def test_plural_cases_exact_numbers_and_nested_fields():
    from bot.i18n import expand_plurals

    template = "{n, plural, =0 {no rows} one {# row of {sheet}} other {# rows of {sheet}}}"
    assert expand_plurals("en", template, {"n": 0}) == "no rows"
    assert expand_plurals("en", template, {"n": 1}).format(n=1, sheet="S") == "1 row of S"
    assert expand_plurals("en", template, {"n": 5}).format(n=5, sheet="S") == "5 rows of S"
    assert placeholders(template) == {"n", "sheet"}
    with pytest.raises(TypeError):
        expand_plurals("en", template, {"n": "5"})


def test_labels_are_plain_text_and_messages_escape():
    """A button label is never parsed by Telegram: a name with & < > shows as typed (no &amp;)."""
    i18n = I18n()
    tr = i18n.translator("en")
    assert tr.label("invite.btn_days", days=1) == "1 day"
    assert tr.label("certify.btn_apply", org='<b>研发&测试</b>"x\'') == '📤 Apply: <b>研发&测试</b>"x\''
    assert tr("certify.btn_apply", org="研发&测试") == "📤 Apply: 研发&amp;测试"  # what a label must not use
