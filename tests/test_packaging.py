"""The install is reproducible and every console command points at a function."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        match = re.match(r"\s*([A-Za-z0-9_.\-]+)==([^\s;#]+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return pins


def test_the_lock_file_holds_every_pin_of_pyproject_at_its_version():
    declared = _pins(PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"])
    locked = _pins((ROOT / "requirements.lock").read_text().splitlines())
    assert declared, "no pins read from pyproject.toml"
    assert {name: locked.get(name) for name in declared} == declared


def test_every_console_command_names_a_function():
    for command, target in PROJECT["scripts"].items():
        module, _, name = target.partition(":")
        assert callable(getattr(importlib.import_module(module), name)), command
