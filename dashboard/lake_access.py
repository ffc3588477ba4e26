"""The dashboard's read-only access to the lake: one cached connection, cached query results.

`query(name, *args)` runs `dashboard.queries.<name>` on a fresh cursor of the shared read-only
connection, and caches its result for the refresh interval, so many viewers cost one query.
"""

from __future__ import annotations

from typing import Any

import duckdb
import streamlit as st

from dashboard import queries
from dataflows import lake
from dataflows.settings import Settings

SETTINGS = Settings.from_env()


@st.cache_resource(show_spinner=False)
def _connection(lake_path: str) -> duckdb.DuckDBPyConnection:
    return lake.connect(lake_path, read_only=True)


def lake_ready() -> bool:
    """Whether the lake exists; if not, the page explains how to start a flow."""
    if (SETTINGS.lake / "catalog.sqlite").exists():
        return True
    st.info(
        f"No lake yet at `{SETTINGS.lake}`. Start a flow (`just flow` or `just demo`) "
        "or point `CITY_LAKE` at an existing lake."
    )
    return False


@st.cache_data(ttl=SETTINGS.dashboard_refresh_s, show_spinner=False, max_entries=256)
def query(name: str, *args: Any, **kwargs: Any) -> Any:
    """Result of `dashboard.queries.<name>(cursor, *args, **kwargs)`, cached briefly."""
    cursor = lake.cursor(_connection(str(SETTINGS.lake)))
    try:
        return getattr(queries, name)(cursor, *args, **kwargs)
    finally:
        cursor.close()
