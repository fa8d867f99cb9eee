#!/usr/bin/env python3
"""Bootstrap: create .venv, install the project, then run a command in it.

    python3 dev.py sandbox   start the bot in the local sandbox with demo data
    python3 dev.py test      run ruff, mypy and the whole test suite (what CI runs), the tests spread
                             over the machine's cores (at most 4; TEST_WORKERS=N sets it, 1: one process)
    python3 dev.py test ARGS run pytest only, with these arguments (e.g. tests/handlers -q)

Only the standard library is used here so that it runs on a fresh Python 3.11. `run` and `sandbox`
replace this process with the bot's (exec): a supervisor's SIGTERM and a Ctrl+C reach the bot itself,
which stops gracefully. The .venv made here holds the test tools too: a production install is `pip
install .` into a venv of its own (README "Installing for production").
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".installed"


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


class SetupError(Exception):
    """The .venv cannot be made: one line saying what to do."""


def create_venv() -> None:
    print("dev.py: creating .venv", flush=True)
    try:
        venv.EnvBuilder(with_pip=True).create(VENV)
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(VENV, ignore_errors=True)  # half made (no pip): the next try starts afresh
        if importlib.util.find_spec("ensurepip") is None:
            raise SetupError("this Python cannot create a venv with pip (its ensurepip module is missing); "
                             "on Debian or Ubuntu install it with: apt-get install python3-venv") from None
        raise SetupError(f"creating .venv failed: {exc}") from None


def ensure_venv() -> None:
    if not PY.exists():
        create_venv()
    if not STAMP.exists() or STAMP.read_text() != _fingerprint():
        print("dev.py: installing dependencies into .venv", flush=True)
        pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.check_call([*pip, "-e", f"{ROOT}[test]"])
        STAMP.write_text(_fingerprint())


def _workers() -> list[str]:
    """pytest-xdist's options: the suite in several processes, a test to whichever is free (many tests
    wait on a bot process or a sandbox more than they compute). More workers than cores make the
    timing-sensitive end-to-end tests slower, not the suite faster."""
    wanted = os.environ.get("TEST_WORKERS", "").strip()
    workers = int(wanted) if wanted.isdigit() else min(4, os.cpu_count() or 1)
    return ["-n", str(workers), "--dist", "worksteal"] if workers > 1 else []


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"sandbox", "test", "run"}:
        print(__doc__)
        return 2
    try:
        ensure_venv()
    except SetupError as exc:
        print(f"dev.py: {exc}", file=sys.stderr)
        return 1
    cmd, rest = argv[0], argv[1:]
    if cmd == "test":
        if not rest:  # the whole check, as CI runs it: lint, types, then every test
            for check in (["ruff", "check", "bot", "tests", "bench"], ["mypy"]):
                print("dev.py: " + " ".join(check), flush=True)
                if subprocess.call([str(PY), "-m", *check], cwd=ROOT) != 0:
                    return 1
        args = [str(PY), "-m", "pytest", *(rest or ["-q", *_workers()])]
    elif cmd == "sandbox":
        args = [str(PY), "-m", "bot", "sandbox", *(rest or ["--demo"])]
    else:
        args = [str(PY), "-m", "bot", "run", *rest]
    sys.stdout.flush()
    os.chdir(ROOT)
    os.execv(args[0], args)  # this process becomes the command: signals and the exit status are its own
    return None


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl+C while the venv is being made or during ruff/mypy
        sys.exit(130)
