"""Router of the dashboard: one page per module in `dashboard/views/`.

Serve it with `just dashboard` (or `streamlit run dashboard/app.py`).
"""

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on the path, not the project root
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

st.set_page_config(
    page_title="City stream analytics", page_icon=":material/location_city:", layout="wide"
)

VIEWS = Path(__file__).parent / "views"
pages = [
    st.Page(VIEWS / "overview.py", title="City overview", icon=":material/map:", default=True),
    st.Page(VIEWS / "alerts.py", title="Alerts", icon=":material/notifications_active:"),
    st.Page(VIEWS / "sensor.py", title="Sensor drill-down", icon=":material/monitoring:"),
    st.Page(VIEWS / "maintenance.py", title="Maintenance", icon=":material/build:"),
    st.Page(VIEWS / "quality.py", title="Data quality", icon=":material/rule:"),
    st.Page(VIEWS / "system.py", title="System", icon=":material/speed:"),
]
st.navigation(pages).run()
