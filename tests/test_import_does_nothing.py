"""Importing any module of the three packages does no work: the flow is built by a factory."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import gc, importlib, logging, os, pkgutil, sys
# third-party packages may change the environment when imported (Streamlit sets MPLBACKEND):
# they are imported first, so that what is measured is our own modules
import bytewax.operators, duckdb, kafka, numpy, pandas, plotly.graph_objects, psutil
import pyarrow, river, scipy.io, streamlit  # scipy.io imports threadpoolctl, which sets an env
before = (dict(os.environ), gc.get_threshold(), list(logging.getLogger().handlers))
import dashboard, dataflows, online_models
names = []
for package in (dataflows, online_models, dashboard):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if module.name.split(".")[-1] in ("__main__", "app") or ".views" in module.name:
            continue  # scripts and Streamlit pages run when imported, by design
        importlib.import_module(module.name)
        names.append(module.name)
after = (dict(os.environ), gc.get_threshold(), list(logging.getLogger().handlers))
assert after == before, "importing changed the environment, gc or logging"
print(len(names))
"""


def test_importing_every_module_changes_no_global_state():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout) >= 40  # every library module was imported


LAYERS = """
import importlib, pkgutil, sys
import {package}
for module in pkgutil.walk_packages({package}.__path__, "{package}."):
    if module.name.split(".")[-1] != "__main__":
        importlib.import_module(module.name)
print(sorted({{name.split(".")[0] for name in sys.modules}} & {{"dashboard", "dataflows"}}))
"""


def test_dependencies_point_one_way():
    def imported(package: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", LAYERS.format(package=package)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout.strip()

    assert imported("online_models") == "[]"  # River, NumPy and the standard library only
    assert imported("dataflows") == "['dataflows']"  # never the dashboard


READ_SIDE = """
import sys
import dashboard.lake_access, dashboard.queries
print(sorted({name.split(".")[1] for name in sys.modules if name.startswith("dataflows.")}))
"""
ALLOWED = {"lake", "messages", "catalogue", "settings", "dashboard_server", "logs"}


def test_the_dashboard_reads_the_lake_and_nothing_of_the_flow():
    # its pages run Streamlit when imported: their own imports are read, not run
    for page in (ROOT / "dashboard").rglob("*.py"):
        for node in ast.walk(ast.parse(page.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dataflows."):
                assert node.module.split(".")[1] in ALLOWED, (page.name, node.module)
    # and what its modules import in turn
    result = subprocess.run(
        [sys.executable, "-c", READ_SIDE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rooms = set(ast.literal_eval(result.stdout))
    assert rooms <= ALLOWED, rooms


START = """
import sys
import dataflows.flow.city
slow = ("scipy.stats", "river.drift", "river.anomaly")
print(sorted(name for name in slow if name in sys.modules))
"""


def test_the_flow_starts_without_scipy():
    # SciPy's statistics (through River's drift, metrics and anomaly modules) take about a
    # second to import: the flow imports them when a model that needs them is made
    result = subprocess.run(
        [sys.executable, "-c", START], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"
