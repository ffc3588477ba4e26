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


def settings() -> Settings:
    """Settings from the environment, read at each use (cheap), so tests can change them."""
    return Settings.from_env()


@st.cache_resource(show_spinner=False)
def _connection(lake_path: str) -> duckdb.DuckDBPyConnection:
    return lake.connect(lake_path, read_only=True)


def lake_ready() -> bool:
    """Whether the lake exists; if not, the page explains how to start a flow."""
    folder = settings().lake
    if lake.is_ready(folder):
        return True
    st.info(
        f"No lake yet at `{folder}`. Start a flow (`just flow` or `just demo`) "
        "or point `CITY_LAKE` at an existing lake."
    )
    return False


@st.cache_data(ttl=Settings.from_env().dashboard_refresh_s, show_spinner=False, max_entries=256)
def _cached_query(lake_path: str, name: str, *args: Any, **kwargs: Any) -> Any:
    cursor = lake.cursor(_connection(lake_path))
    try:
        return getattr(queries, name)(cursor, *args, **kwargs)
    finally:
        cursor.close()


def query(name: str, *args: Any, **kwargs: Any) -> Any:
    """Result of `dashboard.queries.<name>(cursor, *args, **kwargs)`, cached briefly."""
    return _cached_query(str(settings().lake), name, *args, **kwargs)


def clear_cache() -> None:
    """Forget cached results, after this dashboard wrote to the lake."""
    _cached_query.clear()
