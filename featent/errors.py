"""Errors that carry a message meant for a person.

Every failure caused by the user's input (a unit, a folder, a checkpoint, a cache) is raised as a
``FeatentError`` with one readable sentence; the CLI prints it as one line and exits non-zero, the
app shows it in place. ``FeatentError`` subclasses ``ValueError`` so plain numeric callers can
catch the usual exception type.
"""


class FeatentError(ValueError):
    """Base class: a problem with the user's input, described in one readable sentence."""


class UnitError(FeatentError):
    """A unit (activation map) that the topology cannot be computed on."""


class DataError(FeatentError):
    """A dataset, image folder or class that cannot be used."""


class ModelError(FeatentError):
    """A model name, checkpoint or weights file that cannot be used."""


class ActivationError(FeatentError):
    """Activations that are not finite (NaN or inf)."""


class CacheError(FeatentError):
    """A result store that cannot be created or written."""
