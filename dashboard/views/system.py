"""System: the flow watching itself – throughput, lag, latency, steps and the lake over time."""

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard.lake_access import lake_ready, query, settings

st.title("System")

CHARTS = (
    ("readings_per_s", "lake-", "Readings committed per second, per sink partition"),
    ("items_per_s", "source:", "Records read per second, per source partition"),
    ("consumer_lag", "kafka:", "Kafka consumer lag (records not yet stored), per partition"),
    ("produce_to_lake_s", "kafka:", "Seconds from producer to lake, per Kafka partition"),
    ("busy_cores", "step:", "Cores each step keeps busy (step@process)"),
    ("items_per_s", "step:", "Items per second into each step (step@process)"),
    ("event_lag_s", "lake-", "Seconds between the newest stored reading and now"),
    ("commit_s", "lake-", "Seconds per micro-batch commit"),
    ("dead_letters_per_min", "source:", "Dead letters received per minute, per source partition"),
    ("dead_letters_per_min", "lake-", "Dead letters committed per minute, per sink partition"),
    ("lake_bytes", "lake", "The lake's data files (bytes)"),
)


def _tile(figures: pd.DataFrame, metric: str, prefix: str, how: str = "sum") -> float | None:
    """The latest samples of `metric` over the scopes starting with `prefix`, or None."""
    chosen = figures[(figures["metric"] == metric) & figures["scope"].str.startswith(prefix)]
    if chosen.empty:
        return None
    return float(chosen["value"].max() if how == "max" else chosen["value"].sum())


@st.fragment(run_every=settings().dashboard_refresh_s)
def live_system() -> None:
    series = query("flow_metrics")
    if series.empty:
        st.info(
            "No flow metrics yet: a running flow samples them every "
            f"{settings().metrics_every_s:g} s (`CITY_METRICS_EVERY_S`)."
        )
        return
    latest = query("flow_metrics_latest")
    readings = _tile(latest, "readings_per_s", "lake-")
    lag = _tile(latest, "consumer_lag", "kafka:")
    latency = _tile(latest, "produce_to_lake_s", "kafka:", how="max")
    dead = _tile(latest, "dead_letters_per_min", "lake-")
    size = _tile(latest, "lake_bytes", "lake")
    top = st.columns(5)
    top[0].metric("Readings/s (all partitions)", f"{readings or 0.0:,.0f}")
    top[1].metric(
        "Kafka lag (records)",
        "–" if lag is None else f"{lag:,.0f}",
        help="Records on the broker not yet in the lake, over all partitions (Kafka flow only)",
    )
    top[2].metric(
        "Producer to lake (s)",
        "–" if latency is None else f"{latency:,.1f}",
        help="The slowest partition's newest stored record, from its Kafka timestamp to its "
        "commit (Kafka flow only)",
    )
    top[3].metric("Dead letters/min", f"{dead or 0.0:,.1f}")
    top[4].metric("Lake size", f"{(size or 0.0) / 1e6:,.1f} MB")
    shown = []
    for metric, prefix, title in CHARTS:
        part = series[(series["metric"] == metric) & series["scope"].str.startswith(prefix)]
        if not part.empty:
            shown.append((f"{metric}_{prefix}", part, title))
    for row in range(0, len(shown), 2):
        columns = st.columns(2)
        for column, (key, part, title) in zip(columns, shown[row : row + 2], strict=False):
            chart = px.line(part, x="ts", y="value", color="scope", title=title)
            chart.update_layout(margin={"l": 0, "r": 0, "t": 40, "b": 0}, height=320)
            column.plotly_chart(chart, key=f"system_{key}")
    steps = latest[latest["scope"].str.startswith("step:")]
    if not steps.empty:
        st.subheader("Steps now")
        table = steps.pivot_table(index="scope", columns="metric", values="value").reset_index()
        table["scope"] = table["scope"].str.removeprefix("step:")
        st.dataframe(
            table.rename(columns={"scope": "step@process"}), hide_index=True, key="system_steps"
        )
    st.caption(
        "Latest sample of each metric; the same figures are served to Prometheus at "
        f"`http://{settings().metrics_host}:{settings().metrics_port}/metrics` by each flow "
        "process (docs/scaling.md)."
    )
    st.dataframe(latest, hide_index=True, key="system_latest")


if lake_ready():
    live_system()
