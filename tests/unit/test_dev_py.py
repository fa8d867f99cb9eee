"""dev.py on a Python without ensurepip (Debian's python3 without the python3-venv package): the first
command says what to install, in one line, and leaves no half-made .venv behind."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import venv
from types import ModuleType

from tests.support.sandbox_client import ROOT


def load_dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_python_without_ensurepip_is_told_to_install_python3_venv(tmp_path, monkeypatch, capsys):
    dev = load_dev()
    monkeypatch.setattr(dev, "VENV", tmp_path / ".venv")
    monkeypatch.setattr(dev, "PY", tmp_path / ".venv" / "bin" / "python")

    def debian_create(self: venv.EnvBuilder, env_dir: object) -> None:
        (tmp_path / ".venv" / "bin").mkdir(parents=True)
        (tmp_path / ".venv" / "bin" / "python").write_text("")  # made, then ensurepip fails
        raise subprocess.CalledProcessError(1, [sys.executable, "-Im", "ensurepip", "--upgrade", "--default-pip"])

    monkeypatch.setattr(venv.EnvBuilder, "create", debian_create)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ensurepip" else real_find_spec(name, *a))
    assert dev.main(["run"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [("dev.py: this Python cannot create a venv with pip (its ensurepip module is missing); "
                   "on Debian or Ubuntu install it with: apt-get install python3-venv")]
    assert not (tmp_path / ".venv").exists()  # the next try starts afresh
