"""Predictive maintenance: assets ranked by risk, one asset's health, warnings vs. failures."""

import streamlit as st
from plotly.subplots import make_subplots

from dashboard.lake_access import lake_ready, query, settings

st.title("Maintenance")

if lake_ready():
    s = settings()
    assets = query("asset_risk")
    if assets.empty:
        st.info(
            "No maintenance prediction yet: the models predict once they have learnt from a "
            "few failures (the simulator's assets: `CITY_SIM_ASSETS`, "
            "`CITY_SIM_ASSET_HISTORY_DAYS`)."
        )
        st.stop()
    outcomes = query("failure_outcomes", 24.0)
    scored = outcomes[outcomes["scored"]]
    down = assets[assets["down"]]
    risk = assets[~assets["down"]]
    head = st.columns(5)
    head[0].metric("Assets with predictions", f"{len(assets):,}")
    at_risk = int((risk["failure_prob"] >= s.maintenance_alert_prob).sum())
    head[1].metric(f"Failure likely within {s.maintenance_horizon_h:g} h", f"{at_risk:,}")
    head[2].metric("Open maintenance warnings", f"{int(risk['warning'].sum()):,}")
    warned = f"{scored['warned'].mean():.0%}" if len(scored) else "–"
    head[3].metric("Failures warned ≥ 24 h ahead", warned, help=f"of {len(scored)} failures")
    head[4].metric("Assets down", f"{len(down):,}", help="failed and not back in service")

    if len(down):
        st.subheader("Assets down")
        st.dataframe(
            down[["asset_id", "type", "district", "down_since"]],
            hide_index=True,
            column_config={"down_since": st.column_config.DatetimeColumn("failed at (UTC)")},
            key="assets_down",
        )

    st.subheader("Assets in service, by risk")
    st.dataframe(
        risk.drop(columns=["down", "down_since"]),
        hide_index=True,
        column_config={
            "failure_prob": st.column_config.ProgressColumn(
                f"P(failure ≤ {s.maintenance_horizon_h:g} h)",
                min_value=0.0,
                max_value=1.0,
                format="%.2f",
            ),
            "rul": st.column_config.NumberColumn("RUL (h)", format="%.0f"),
            "rul_low": st.column_config.NumberColumn("low", format="%.0f"),
            "rul_high": st.column_config.NumberColumn("high", format="%.0f"),
            "true_rul": st.column_config.NumberColumn("true RUL (h)", format="%.0f"),
            "predicted_at": st.column_config.DatetimeColumn("as of (UTC)"),
        },
        key="asset_risk",
    )

    st.subheader("Asset health")
    ids = [*risk["asset_id"], *down["asset_id"]]  # in service by risk, then those down
    pick = st.columns([2, 1])
    asset_id = pick[0].selectbox("Asset", ids, key="asset_id")
    days = pick[1].selectbox(
        "Window", [7, 30, 90, 365], index=1, key="asset_days", format_func=lambda d: f"{d} days"
    )
    history = query("asset_history", asset_id, float(days))
    signals = query("asset_signals", asset_id, float(days))
    fig = make_subplots(
        rows=3, cols=1, shared_xaxes=True, row_heights=[0.45, 0.2, 0.35], vertical_spacing=0.04
    )
    fig.add_scatter(
        x=history["ts"], y=history["rul_high"], mode="lines", line={"width": 0},
        showlegend=False, hoverinfo="skip", row=1, col=1,
    )  # fmt: skip
    fig.add_scatter(
        x=history["ts"], y=history["rul_low"], mode="lines", line={"width": 0}, fill="tonexty",
        fillcolor="rgba(21,101,192,0.18)", name="RUL band", row=1, col=1,
    )  # fmt: skip
    fig.add_scatter(
        x=history["ts"], y=history["rul"], mode="lines", name="predicted RUL",
        line={"color": "#1565c0"}, row=1, col=1,
    )  # fmt: skip
    if history["true_rul"].notna().any():
        fig.add_scatter(
            x=history["ts"], y=history["true_rul"], mode="lines", name="true RUL",
            line={"color": "#2e7d32", "dash": "dash"}, row=1, col=1,
        )  # fmt: skip
    fig.add_scatter(
        x=history["ts"], y=history["failure_prob"], mode="lines", name="failure probability",
        line={"color": "#c62828"}, row=2, col=1,
    )  # fmt: skip
    fig.add_hline(y=s.maintenance_alert_prob, line_dash="dot", line_color="#c62828", row=2, col=1)
    for metric, part in signals.groupby("metric"):
        relative = part["value"] / part["value"].iloc[: max(1, len(part) // 10)].mean()
        fig.add_scatter(
            x=part["ts"], y=relative, mode="lines", name=f"{metric} (relative)", row=3, col=1
        )
    colours = {"failure": "#c62828", "maintenance": "#2e7d32", "repair": "#757575"}
    start = history["ts"].min() if len(history) else None
    for event in query("asset_events", asset_id).itertuples():
        if start is not None and event.ts >= start:
            fig.add_vline(x=event.ts, line_color=colours.get(event.kind, "#000"), line_dash="dot")
    fig.update_yaxes(title_text="RUL (h)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="P(failure)", range=[0, 1.05], row=2, col=1)
    fig.update_yaxes(title_text="signal / early level", row=3, col=1)
    fig.update_layout(
        height=680, margin={"l": 0, "r": 0, "t": 10, "b": 0}, legend={"orientation": "h"}
    )
    st.plotly_chart(fig, key="asset_chart")
    st.caption(
        "Band: the model's 90 % interval. Dotted lines: failures (red), maintenance visits "
        "(green), back in service (grey)."
    )

    st.subheader("Failures: warned or not")
    left, right = st.columns([3, 2])
    left.dataframe(
        outcomes.sort_values("failure_ts", ascending=False),
        hide_index=True,
        column_config={
            "failure_ts": st.column_config.DatetimeColumn("failed at (UTC)"),
            "life_start": None,
            "scored": st.column_config.CheckboxColumn("model ready"),
            "warned": st.column_config.CheckboxColumn("warned ≥ 24 h"),
            "lead_h": st.column_config.NumberColumn("lead time (h)", format="%.0f"),
        },
        key="failure_outcomes",
    )
    if scored["lead_h"].notna().any():
        histogram = make_subplots()
        histogram.add_histogram(x=scored["lead_h"].dropna(), nbinsx=30, name="lead time")
        histogram.add_vline(x=24, line_dash="dot", line_color="#c62828")
        histogram.update_layout(
            height=300, margin={"l": 0, "r": 0, "t": 30, "b": 0}, title="Warning lead time (h)"
        )
        right.plotly_chart(histogram, key="lead_times")

    st.subheader("Models")
    st.dataframe(query("model_health"), hide_index=True, key="model_health")
