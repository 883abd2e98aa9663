"""Training: one deterministic loop for the demo CNN and the demo family built with it.

The family's specs (``demo@epochN``, ``demo-corrupt-X``) are named in ``featent.nets.family``;
``featent.nets.load_model`` calls :func:`featent.training.family.ensure_run` when a run is missing.
"""

from featent.training import family, loop

__all__ = ["family", "loop"]
