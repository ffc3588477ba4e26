"""Per-sensor drill-down: a metric over time with anomaly markers, its score, ground truth."""

import streamlit as st
from plotly.subplots import make_subplots

from dashboard.lake_access import lake_ready, query, settings

st.title("Sensor drill-down")

if lake_ready():
    registry = query("sensors")
    if registry.empty:
        st.info("No sensor has reported yet.")
        st.stop()
    ids = registry["sensor_id"].tolist()
    wanted = st.query_params.get("sensor")
    pick = st.columns([2, 1, 1])
    sensor_id = pick[0].selectbox(
        "Sensor", ids, index=ids.index(wanted) if wanted in ids else 0, key="sensor_id"
    )
    info = registry.set_index("sensor_id").loc[sensor_id]
    metrics = query("sensor_metrics", info["type"]) or query("recorded_metrics", sensor_id)
    metric = pick[1].selectbox("Metric", metrics, key="sensor_metric")
    hours = pick[2].selectbox(
        "Window",
        [1, 6, 24, 72, 168],
        index=2,
        key="sensor_hours",
        format_func=lambda h: f"last {h} h",
    )
    st.caption(f"{info['type']} in {info['district']} · units: {info['unit']}")

    @st.fragment(run_every=settings().dashboard_refresh_s)
    def live_sensor() -> None:
        series = query("sensor_series", sensor_id, metric, float(hours))
        if series.empty:
            st.info("No readings of this metric in the window.")
            return
        fig = make_subplots(
            rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04
        )
        fig.add_scatter(
            x=series["ts"],
            y=series["value"],
            mode="lines",
            name=metric,
            line={"color": "#1565c0"},
            row=1,
            col=1,
        )
        flagged = series[series["is_anomaly"]]
        fig.add_scatter(
            x=flagged["ts"],
            y=flagged["value"],
            mode="markers",
            name="anomaly",
            marker={"color": "#c62828", "size": 8, "symbol": "x"},
            row=1,
            col=1,
        )
        fig.add_scatter(
            x=series["ts"],
            y=series["score"],
            mode="lines",
            name="score",
            line={"color": "#6a1b9a"},
            row=2,
            col=1,
        )
        start, end = series["ts"].min(), series["ts"].max()
        labels = query("sensor_labels", sensor_id)
        for row in labels.itertuples():
            if row.end_ts < start or row.start_ts > end:
                continue
            if row.metric is not None and row.metric != metric:
                continue
            fig.add_vrect(
                x0=row.start_ts,
                x1=row.end_ts,
                fillcolor="#ffb300",
                opacity=0.2,
                line_width=0,
                annotation_text=row.kind,
                row=1,
                col=1,
            )
        fig.update_yaxes(title_text=metric, row=1, col=1)
        fig.update_yaxes(title_text="score", range=[0, 1.05], row=2, col=1)
        fig.update_layout(
            height=560, margin={"l": 0, "r": 0, "t": 10, "b": 0}, legend={"orientation": "h"}
        )
        st.plotly_chart(fig, key="sensor_chart")
        st.caption("Red crosses: readings flagged anomalous. Shaded: ground-truth labels.")
        st.subheader("Alerts of this sensor")
        st.dataframe(query("sensor_alerts", sensor_id), hide_index=True, key="sensor_alerts")

    live_sensor()
