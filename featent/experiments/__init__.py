"""Experiments on top of the pipeline, one module each: rescaling (``rescale``), randomness
(``randomness``), model sets and the layer trend (``model_sets``), training dynamics (``dynamics``),
layer profiles (``profiles``), the unit gallery (``gallery``), cumulative ablation, channel pruning,
unit roles and the sweep. ``contract`` is their common way in and out; ``stored`` encodes results."""
