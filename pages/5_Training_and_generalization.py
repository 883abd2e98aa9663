"""Training and generalization: the page at /Training_and_generalization.

Its body is featent/app/views/training_and_generalization.py.

Streamlit runs this file itself only on the first visit of a fresh ``streamlit run app.py`` server
(a ``pages/`` folder beside the main script); the app's navigation then opens the page by its address.
"""

from featent.app.navigation import run

run()
