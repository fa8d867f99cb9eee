from __future__ import annotations

import pytest

from tests.support.sandbox_client import Sandbox, SandboxProcess


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory) -> SandboxProcess:
    proc = SandboxProcess(tmp_path_factory.mktemp("e2e") / "sandbox.sqlite3")
    yield proc
    proc.stop()


@pytest.fixture
def sb(sandbox_process) -> Sandbox:
    return sandbox_process.sandbox
