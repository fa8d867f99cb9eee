"""Pages through a real browser: Debian's chromium driven by Playwright (the `playwright` package of the test
extras, pointed at the system browser: no browser download). Skipped, saying why, where either is missing;
.ci/run installs chromium and fonts-wqy-zenhei from Debian's packages."""
from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.sandbox_client import SandboxProcess


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.fixture(scope="module")
def demo_sandbox(tmp_path_factory: pytest.TempPathFactory) -> SandboxProcess:
    proc = SandboxProcess(tmp_path_factory.mktemp("browser") / "demo.sqlite3", demo=True)
    yield proc
    proc.stop()


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    playwright_api = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's)")
    async with playwright_api.async_playwright() as p:
        launched = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where a test leaves its screenshots (to look at after a run: pytest's tmp folder)."""
    return tmp_path
