"""A fresh deployment's first hour (README "The first hour"): before OPERATOR_IDS is set, /help tells each
person their Telegram id so the owner can learn theirs; once it is set, nobody is told."""
from __future__ import annotations

import dataclasses

import pytest

from bot.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, operator_ids=frozenset())


async def test_help_tells_its_id_to_the_first_user_of_a_deployment_without_an_operator(client_factory):
    owner = client_factory(user_id=4242001, first_name="Owner", language_code="en")
    sent = await owner.send("/help")
    assert "/start" in sent.text
    assert "Your Telegram id is <code>4242001</code>: if you run this bot, put it in OPERATOR_IDS" in sent.text
    sent = await client_factory(user_id=4242002).send("/help")
    assert "您的 Telegram ID 是 <code>4242002</code>" in sent.text
