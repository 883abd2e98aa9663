"""Experiments on top of the pipeline: rescaling, randomness, model sets and training dynamics
(``studies``), cumulative ablation, channel pruning and unit roles."""
