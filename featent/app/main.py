"""The app's entry script: ``streamlit run featent/app/main.py`` (what ``featent app`` starts).

It sits in the package, beside no ``pages/`` folder, so Streamlit uses the explicit navigation from
the first visit on and the app runs from an installed featent without a checkout.
"""

from featent.app.navigation import run

run()
