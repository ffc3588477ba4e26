"""City overview: headline figures, a map of sensors coloured by status, readings per minute."""

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboard.lake_access import lake_ready, query, settings

STATUS_COLOURS = {"ok": "#2e7d32", "anomalous": "#f9a825", "alert": "#c62828", "silent": "#757575"}

st.title("City overview")


def sensor_map(status: pd.DataFrame, style: str) -> go.Figure:
    """Sensors coloured by status: on map tiles, or on a schematic plan (`schematic`).

    The schematic plan needs neither WebGL nor a tile server, so it works anywhere.
    """
    common = {
        "color": "status",
        "color_discrete_map": STATUS_COLOURS,
        "category_orders": {"status": list(STATUS_COLOURS)},
        "hover_name": "sensor_id",
        "hover_data": {"type": True, "district": True, "lat": False, "lon": False},
        "height": 520,
    }
    if style != "schematic":
        fig = px.scatter_map(status, lat="lat", lon="lon", zoom=11.5, map_style=style, **common)
    else:
        fig = px.scatter(status, x="lon", y="lat", **common)
        fig.update_yaxes(scaleanchor="x", scaleratio=1.6, showticklabels=False, title=None)
        fig.update_xaxes(showticklabels=False, title=None)
        centres = status.groupby("district")[["lon", "lat"]].mean()
        for district, centre in centres.iterrows():
            fig.add_annotation(
                x=centre["lon"],
                y=centre["lat"],
                text=district,
                showarrow=False,
                font={"color": "#555", "size": 12},
                opacity=0.7,
            )
        fig.update_layout(plot_bgcolor="#f4f6f8")
    fig.update_traces(marker={"size": 10})
    fig.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, legend_title_text="status")
    return fig


@st.fragment(run_every=settings().dashboard_refresh_s)
def live_overview() -> None:
    figures = query("overview")
    if figures["now"] is None:
        st.info("The lake is empty so far: the flow has not written any reading yet.")
        return
    cols = st.columns(5)
    cols[0].metric(
        "Sensors reporting", f"{figures['sensors_reporting']:,} / {figures['sensors_total']:,}"
    )
    cols[1].metric("Readings/s", f"{figures['readings_per_s']:,.1f}")
    cols[2].metric("Open alerts", f"{figures['open_alerts']:,}")
    cols[3].metric("Dead letters (1 h)", f"{figures['dead_letters_1h']:,}")
    cols[4].metric("Readings stored", f"{figures['readings_total']:,}")
    st.caption(
        f"Data up to {figures['now']:%Y-%m-%d %H:%M:%S} UTC; 'reporting' and readings/s over "
        "the last 5 minutes of data. Refreshes every "
        f"{settings().dashboard_refresh_s:g} s."
    )

    status = query("sensor_status")
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(sensor_map(status, settings().map_style), key="sensor_map")
    with right:
        counts = status.groupby(["district", "status"]).size().reset_index(name="sensors")
        bar = px.bar(
            counts,
            x="sensors",
            y="district",
            color="status",
            color_discrete_map=STATUS_COLOURS,
            orientation="h",
            height=520,
            title="Sensors by district and status",
        )
        bar.update_layout(margin={"l": 0, "r": 0, "t": 40, "b": 0}, showlegend=False)
        st.plotly_chart(bar, key="district_bar")

    per_minute = query("throughput")
    line = go.Figure()
    line.add_scatter(x=per_minute["minute"], y=per_minute["readings"], name="readings")
    line.add_bar(
        x=per_minute["minute"],
        y=per_minute["anomalies"],
        name="anomalous readings",
        yaxis="y2",
        marker_color="#c62828",
    )
    line.update_layout(
        title="Readings per minute (last 6 hours of data)",
        height=300,
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
        yaxis={"title": "readings", "rangemode": "tozero"},
        yaxis2={"title": "anomalous", "overlaying": "y", "side": "right", "showgrid": False},
        legend={"orientation": "h"},
    )
    st.plotly_chart(line, key="throughput")


if lake_ready():
    live_overview()
