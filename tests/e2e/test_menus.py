"""End to end: the running bot's sweep sets a person's command menu after a change their own update
made (SPEC "Commands"), without a further /start."""
from __future__ import annotations

import time


def test_commands_menu_follows_the_language_chosen_without_a_restart(sb):
    carol = sb.user("Carol", language_code="zh")
    carol.send("/lang")
    carol.press(carol.expect("Choose your language"), "English")
    deadline = time.monotonic() + 15
    while True:
        commands = sb.get(f"/sandbox/users/{carol.id}/commands")["commands"]
        if commands and commands[1]["description"] == "Help":
            break
        assert time.monotonic() < deadline, commands
        time.sleep(0.2)
    assert [c["command"] for c in commands] == ["start", "help", "lang", "cancel"]
