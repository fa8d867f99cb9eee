"""The sandbox's web chat in chromium, as a person uses it: the demo's people listed, a member's pending task
notice, a daily quiz taken by pressing the buttons the bot sent, and the page's own language switch. The page
must raise no script error and log no console error on the way."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

expect = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed").expect

MESSAGES = "#messagesInner"


async def open_chat(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = await browser.new_page(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    await page.goto(url)
    return page, problems


def button(page: Any, label: str) -> Any:
    """The last button whose label ends with `label` among the bot's messages (the one a person would press;
    the labels' leading emoji left out)."""
    return page.locator(f"{MESSAGES} button").filter(has_text=re.compile(re.escape(label) + r"\s*$")).last


async def visible(locator: Any) -> None:
    await expect(locator).to_be_visible(timeout=10_000)


async def test_a_member_takes_the_daily_quiz_in_the_web_chat(browser, demo_sandbox, shots: Path) -> None:
    page, problems = await open_chat(browser, demo_sandbox.sandbox.base)
    users = page.locator("#userList li")
    await users.first.wait_for()
    assert await users.count() == 5
    await page.get_by_text("李娜").click()
    messages = page.locator(MESSAGES)
    await messages.get_by_text("请各位党员本周内学习《中国共产党章程》总纲部分").wait_for()  # her pending task notice
    await visible(button(page, "确认收到"))

    await page.fill("#input", "/quiz")
    await page.press("#input", "Enter")
    await messages.get_by_text("第 1/5 题").wait_for()
    # the questions come in a random order (choice, true/false or fill-in): the round's own buttons are there
    await visible(button(page, "交卷"))
    await page.screenshot(path=str(shots / "quiz-question.png"))

    await button(page, "交卷").click()
    await messages.get_by_text("还有 5 题未作答").wait_for()
    await button(page, "仍然交卷").click()
    await messages.get_by_text("正确率：0/5").wait_for()
    await expect(messages).to_contain_text("正确答案：")  # the review: each question's right answer
    await visible(button(page, "再答一轮"))
    await page.screenshot(path=str(shots / "quiz-result.png"), full_page=True)
    assert problems == []


async def test_the_page_switches_its_own_language(browser, demo_sandbox) -> None:
    page, problems = await open_chat(browser, demo_sandbox.sandbox.base)
    search = page.locator("#userSearch")
    await page.locator("#userList li").first.wait_for()
    assert await search.get_attribute("placeholder") == "搜索用户"
    await page.get_by_role("button", name="EN", exact=True).click()
    assert await search.get_attribute("placeholder") == "Search users"
    await page.get_by_text("Wang Fang").click()
    assert await page.locator("#input").get_attribute("placeholder") == "Message"
    assert problems == []
