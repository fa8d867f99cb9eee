"""The README's systemd template for several processes on one host: each instance gets ports of its own
(WEBHOOK_PORT and METRICS_PORT made from the instance name), since a METRICS_PORT shared through the
environment file made the second process on a host stop; and the environment file's comment names
every setting an operator must give, OPERATOR_IDS among them."""
from __future__ import annotations

import re

from tests.support.sandbox_client import ROOT


def template() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    units = [block for block in re.findall(r"```ini\n(.*?)```", readme, re.S) if "%i" in block]
    assert len(units) == 1, "one systemd unit template in the README"
    return units[0]


def ports(unit: str, instance: str) -> dict[str, int]:
    found = {}
    for name, value in re.findall(r"^Environment=(\w+_PORT)=(\S+)$", unit, re.M):
        found[name] = int(value.replace("%i", instance))
    return found


def test_each_instance_of_the_systemd_template_has_its_own_ports():
    unit = template()
    first, second = ports(unit, "1"), ports(unit, "2")
    assert set(first) == {"WEBHOOK_PORT", "METRICS_PORT"}
    assert first == {"WEBHOOK_PORT": 8081, "METRICS_PORT": 9101} and second == {"WEBHOOK_PORT": 8082,
                                                                                  "METRICS_PORT": 9102}
    every = [p for n in "123456789" for p in ports(unit, n).values()]
    assert len(set(every)) == len(every) and all(1024 < p < 65536 for p in every)


def test_the_environment_file_comment_names_the_settings_to_give():
    comment = next(line for line in template().splitlines() if line.startswith("#") and "DATABASE_URL" in line)
    for name in ("DATABASE_URL", "BOT_TOKEN", "SECRET_KEY", "WEBHOOK_URL", "WEBHOOK_SECRET", "OPERATOR_IDS"):
        assert name in comment
