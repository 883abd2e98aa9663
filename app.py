"""featent app from a checkout: ``streamlit run app.py`` runs the same navigation as the packaged
entry (featent/app/main.py); the pages live in featent/app/views."""

from featent.app.navigation import run

run()
