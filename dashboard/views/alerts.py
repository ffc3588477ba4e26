"""Live alert feed with filters, and acknowledging or resolving alerts (kept in the lake)."""

import streamlit as st

from dashboard.lake_access import address, clear_cache, lake_ready, query, settings
from dataflows.lake import alert_actions

st.title("Alerts")

if lake_ready():
    filters = st.columns([1, 2, 2, 2])
    status = filters[0].radio("Status", ["open", "closed", "all"], index=0, key="alert_status")
    types = filters[1].multiselect(
        "Sensor type",
        [*query("sensor_types")["sensor_type"], "district"],
        key="alert_types",
    )
    known = sorted(set(query("sensors")["district"].dropna()))  # the city's own districts
    districts = filters[2].multiselect("District", known, key="alert_districts")
    search = filters[3].text_input("Sensor id contains", key="alert_search", max_chars=128)
    grouped = st.toggle(
        "One alert per city event",
        value=True,
        key="alert_grouped",
        help="Hide the sensor alerts grouped into a city event (kind city_event).",
    )

    @st.fragment(run_every=settings().dashboard_refresh_s)
    def live_alerts() -> None:
        table = query("alerts", status, types, districts, search.strip(), grouped=grouped)
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
                "handled_at": st.column_config.DatetimeColumn("handled (UTC)"),
                "drill_down": st.column_config.LinkColumn(
                    "sensor", display_text="drill down", help="the sensor's page"
                ),
            },
            key="alerts_table",
        )

    live_alerts()

    with st.form("alert_action", clear_on_submit=False):
        st.subheader("Acknowledge or resolve")
        shown = query("alerts", status, types, districts, search.strip(), grouped=grouped)
        chosen = st.multiselect(
            "Alerts", list(shown["alert_id"]), key="action_alerts", placeholder="alert ids"
        )
        who, note = st.columns([1, 3])
        header = settings().dashboard_actor_header
        if header:  # behind the city's single sign-on: the proxy names the user
            actor = st.context.headers.get(header) or ""
            source = f"header:{header}"
            if actor:
                who.markdown(f"Signed in as **{actor}**")
            else:
                who.warning(f"No `{header}` header: sign in through the city's portal to act.")
        else:
            source = "typed"
            actor = who.text_input(
                "Your name (unauthenticated)",
                key="action_actor",
                max_chars=64,
                help="Anyone can type any name here. Behind a proxy with single sign-on, set"
                " CITY_DASHBOARD_ACTOR_HEADER and actions are signed by the signed-in user.",
            )
        text = note.text_input("Note (optional)", key="action_note", max_chars=500)
        buttons = st.columns(len(alert_actions.ACTIONS))
        clicked = [
            action
            for column, (action, label) in zip(buttons, alert_actions.ACTIONS.items(), strict=True)
            if column.form_submit_button(label, key=action)
        ]
    if clicked:
        try:
            count = alert_actions.record(
                address(), chosen, clicked[0], actor, text, actor_source=source
            )
        except ValueError as error:
            st.error(str(error))
        else:
            clear_cache()
            st.success(f"{count} alert(s) {clicked[0]} by {actor.strip()}; everyone sees it now.")
