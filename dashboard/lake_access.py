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


def address() -> lake.LakeAddress:
    """The lake of the settings: a folder, or a catalog on PostgreSQL and files in S3."""
    return lake.LakeAddress.from_settings(settings())


@st.cache_resource(show_spinner=False)
def _connection(lake_key: str) -> duckdb.DuckDBPyConnection:
    """The shared connection to the lake that `lake_key` (its text, no secret) names."""
    return lake.connect(address(), read_only=True)


def lake_ready() -> bool:
    """Whether the lake exists; if not, the page explains how to start a flow."""
    where = address()
    if lake.is_ready(where):
        return True
    st.info(
        f"No lake yet at `{where}`. Start a flow (`just flow` or `just demo`) "
        "or point `CITY_LAKE` at an existing lake."
    )
    return False


@st.cache_data(ttl=Settings.from_env().dashboard_refresh_s, show_spinner=False, max_entries=256)
def _cached_query(lake_key: str, name: str, *args: Any, **kwargs: Any) -> Any:
    cursor = lake.cursor(_connection(lake_key))
    try:
        return getattr(queries, name)(cursor, *args, **kwargs)
    finally:
        cursor.close()


def query(name: str, *args: Any, **kwargs: Any) -> Any:
    """Result of `dashboard.queries.<name>(cursor, *args, **kwargs)`, cached briefly."""
    return _cached_query(str(address()), name, *args, **kwargs)


def clear_cache() -> None:
    """Forget cached results, after this dashboard wrote to the lake."""
    _cached_query.clear()
