"""featent Streamlit entry page (placeholder until the app issue lands)."""
import streamlit as st

st.set_page_config(page_title="featent", layout="wide")
st.title("featent")
st.write("Topological feature entropy of CNN units.")
