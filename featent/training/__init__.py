"""Training: one deterministic loop for the demo CNN and the demo family built with it.

Importing this package registers the family's specs (``demo@epochN``, ``demo-corrupt-X``) with
``featent.nets`` so ``load_model`` can train their checkpoints on demand.
"""

from featent.training import family, loop

__all__ = ["family", "loop"]
