"""Plotly figures, one module per view, all pure functions from arrays/tables to ``go.Figure``
in one shared look (``featent.plots.style``)."""
