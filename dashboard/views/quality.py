"""Data quality: dead letters by reason and source, over time, and the latest ones."""

import plotly.express as px
import streamlit as st

from dashboard.lake_access import lake_ready, query, settings

st.title("Data quality")


@st.fragment(run_every=settings().dashboard_refresh_s)
def live_quality() -> None:
    by_reason = query("dead_letters_by_reason")
    if by_reason.empty:
        st.success("No dead letters: every record so far was valid.")
        return
    st.metric("Dead letters", f"{int(by_reason['count'].sum()):,}")
    left, right = st.columns(2)
    with left:
        bar = px.bar(
            by_reason,
            x="count",
            y="reason",
            color="source",
            orientation="h",
            title="Dead letters by reason and source",
            height=380,
        )
        bar.update_layout(
            margin={"l": 0, "r": 0, "t": 40, "b": 0}, yaxis={"categoryorder": "total ascending"}
        )
        st.plotly_chart(bar, key="dead_by_reason")
    with right:
        over_time = query("dead_letters_over_time")
        area = px.bar(
            over_time,
            x="minute",
            y="count",
            color="reason",
            title="Dead letters per minute of arrival (24 h)",
            height=380,
        )
        area.update_layout(margin={"l": 0, "r": 0, "t": 40, "b": 0})
        st.plotly_chart(area, key="dead_over_time")
    reasons = ["all", *by_reason["reason"].unique().tolist()]
    choice = st.selectbox("Show the latest dead letters of", reasons, key="dead_reason")
    latest = query("recent_dead_letters", None if choice == "all" else choice)
    st.dataframe(latest, hide_index=True, key="dead_table")


if lake_ready():
    live_quality()
