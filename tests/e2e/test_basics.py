"""End to end over real HTTP: the sandbox process runs the bot's normal long polling."""
from __future__ import annotations


def test_start_gets_welcome_with_buttons(sb):
    alice = sb.user("张伟")
    alice.send("/start")
    welcome = alice.expect("欢迎使用")
    agreement = alice.expect("服务协议与隐私政策")
    labels = [b["text"] for row in agreement["reply_markup"]["inline_keyboard"] for b in row]
    assert "✅ 同意并继续" in labels and "❌ 不同意" in labels
    assert "<b>学习强国</b>" in welcome.get("html", "") or "学习强国" in welcome["text"]


def test_help_lists_commands(sb):
    bob = sb.user("Bob", language_code="en")
    bob.send("/help")
    msg = bob.expect("Commands")
    assert "/start" in msg["text"] and "/lang" in msg["text"]


def test_lang_switch_changes_replies(sb):
    carol = sb.user("Carol", language_code="zh")
    carol.send("/lang")
    chooser = carol.expect("Choose your language")
    answer = carol.press(chooser, "English")
    assert answer["answer"]["text"] == "Language set to English."
    carol.send("/help")
    assert "/cancel — Cancel what you are doing" in carol.expect("Commands")["text"]


def test_unknown_button_is_refused_like_telegram(sb):
    dan = sb.user("丹")
    dan.send("/lang")
    chooser = dan.expect("Choose your language")
    from tests.support.sandbox_client import HTTPError

    try:
        sb.post(f"/sandbox/users/{dan.id}/press", {"message_id": chooser["message_id"], "data": "nope"})  # forged:
    except HTTPError as err:
        assert err.status == 400
    else:
        raise AssertionError("press of a button that does not exist was accepted")


def test_scheduled_jobs_are_listed_and_can_be_run(sb):
    jobs = sb.get("/sandbox/jobs")["jobs"]
    assert "outbox" in [j["id"] for j in jobs]
    assert sb.post("/sandbox/jobs/outbox/run") == {"ok": True}
    from tests.support.sandbox_client import HTTPError

    try:
        sb.post("/sandbox/jobs/no-such-job/run")
    except HTTPError as err:
        assert err.status == 404
    else:
        raise AssertionError("an unknown job was run")


def test_bot_set_visitor_menus_at_start(sb):
    eve = sb.user("Eve", language_code="en")
    commands = sb.get(f"/sandbox/users/{eve.id}/commands")["commands"]
    assert [c["command"] for c in commands][:4] == ["start", "help", "lang", "cancel"]
