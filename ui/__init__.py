"""Streamlit glue shared by the pages: sidebar selection, cached loaders, error display.

featent/ never imports streamlit; this package is the only place that knows about both.
"""
