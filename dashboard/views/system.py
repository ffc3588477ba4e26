"""System: the flow watching itself – throughput, lag, commits and the lake's size over time."""

import plotly.express as px
import streamlit as st

from dashboard.lake_access import lake_ready, query, settings

st.title("System")

CHARTS = (
    ("readings_per_s", "Readings committed per second, per sink partition"),
    ("consumer_lag", "Kafka consumer lag (records not yet stored), per partition"),
    ("event_lag_s", "Seconds between the newest stored reading and now"),
    ("commit_s", "Seconds per micro-batch commit"),
    ("dead_letters_per_min", "Dead letters per minute"),
    ("lake_bytes", "The lake's data files (bytes)"),
)


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
    figures = latest.groupby("metric")["value"].sum()
    top = st.columns(4)
    top[0].metric("Readings/s (all partitions)", f"{figures.get('readings_per_s', 0.0):,.0f}")
    top[1].metric("Kafka lag (records)", f"{figures.get('consumer_lag', 0.0):,.0f}")
    top[2].metric("Dead letters/min", f"{figures.get('dead_letters_per_min', 0.0):,.1f}")
    top[3].metric("Lake size", f"{figures.get('lake_bytes', 0.0) / 1e6:,.1f} MB")
    shown = [(name, title) for name, title in CHARTS if (series["metric"] == name).any()]
    for row in range(0, len(shown), 2):
        columns = st.columns(2)
        for column, (name, title) in zip(columns, shown[row : row + 2], strict=False):
            chart = px.line(
                series[series["metric"] == name], x="ts", y="value", color="scope", title=title
            )
            chart.update_layout(margin={"l": 0, "r": 0, "t": 40, "b": 0}, height=320)
            column.plotly_chart(chart, key=f"system_{name}")
    st.caption(
        "Latest sample of each metric; the same figures are served to Prometheus at "
        f"`http://{settings().metrics_host}:{settings().metrics_port}/metrics` by each flow "
        "process (docs/scaling.md)."
    )
    st.dataframe(latest, hide_index=True, key="system_latest")


if lake_ready():
    live_system()
