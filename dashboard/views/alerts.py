"""Live alert feed with filters (status, sensor type, district, sensor-id search)."""

import streamlit as st

from dashboard.lake_access import lake_ready, query, settings
from dataflows.schema import SENSOR_TYPES
from dataflows.simulation import DISTRICTS

st.title("Alerts")

if lake_ready():
    filters = st.columns([1, 2, 2, 2])
    status = filters[0].radio("Status", ["open", "closed", "all"], index=0, key="alert_status")
    types = filters[1].multiselect("Sensor type", sorted(SENSOR_TYPES), key="alert_types")
    known = sorted(set(query("sensors")["district"].dropna()) | {d[0] for d in DISTRICTS})
    districts = filters[2].multiselect("District", known, key="alert_districts")
    search = filters[3].text_input("Sensor id contains", key="alert_search", max_chars=128)

    @st.fragment(run_every=settings().dashboard_refresh_s)
    def live_alerts() -> None:
        table = query("alerts", status, types, districts, search.strip())
        st.caption(f"{len(table):,} alerts (newest first, at most 500)")
        st.dataframe(
            table,
            hide_index=True,
            column_config={
                "peak_score": st.column_config.ProgressColumn(
                    "peak score", min_value=0.0, max_value=1.0, format="%.2f"
                ),
                "opened_at": st.column_config.DatetimeColumn("opened (UTC)"),
                "closed_at": st.column_config.DatetimeColumn("closed (UTC)"),
            },
            key="alerts_table",
        )

    live_alerts()
