"""The live Streamlit dashboard: `streamlit run dashboard/app.py` (or `just dashboard`)."""
