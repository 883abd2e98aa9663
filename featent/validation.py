"""Declared argument constraints with one uniform message (the scikit-learn ``_param_validation`` way).

Why: the same checks ("an integer >= 1", "one of the dataset's classes") were written by hand in
many places with slightly different words. Here a constraint is declared once next to the
function that needs it and every violation reads the same:
``"{name} must be {what}, got {value!r}."`` raised as the error class the caller declares.

    @validate_params({"images": [Interval(int, 1, None)], "space": [Options({"input", "output"})]})
    def rescale_experiment(selection, images=100, space="input"): ...
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from featent.errors import DataError, FeatentError

__all__ = [
    "Constraint",
    "Interval",
    "Options",
    "InstanceOf",
    "NoneOr",
    "validate_params",
    "check",
    "check_int",
    "check_number",
    "check_choice",
    "check_class",
    "describe",
]

F = TypeVar("F", bound=Callable[..., Any])


class Constraint:
    """A rule a value satisfies or not, and the words that describe it."""

    def is_satisfied_by(self, value: object) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def convert(self, value: Any) -> Any:
        """The value as the function should receive it (numpy integers become int)."""
        return value


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class Interval(Constraint):
    """A number of ``kind`` (int or float) in [low, high] (``closed="both"``), either bound may be None.

    ``closed`` is one of "both", "left", "right", "neither". Booleans are never numbers here; for
    ``float`` the value must also be finite.
    """

    def __init__(self, kind: type, low: float | None, high: float | None, closed: str = "both") -> None:
        if kind not in (int, float):
            raise TypeError("Interval kind is int or float.")
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed is both, left, right or neither, not {closed!r}.")
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def is_satisfied_by(self, value: object) -> bool:
        if self.kind is int:
            if not _is_int(value):
                return False
        elif not _is_real(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
            return False
        v = float(value)  # type: ignore[arg-type]
        if self.low is not None and (v < self.low or (v == self.low and self.closed in ("right", "neither"))):
            return False
        return not (self.high is not None and (v > self.high or (v == self.high and self.closed in ("left", "neither"))))

    def describe(self) -> str:
        low, high = self.low, self.high
        lo_in = self.closed in ("both", "left")
        hi_in = self.closed in ("both", "right")
        if self.kind is int:  # integers: an open bound is the closed bound next to it
            if low is not None and not lo_in:
                low, lo_in = math.floor(low) + 1, True
            if high is not None and not hi_in:
                high, hi_in = math.ceil(high) - 1, True
        what = "an integer" if self.kind is int else "a number"
        if low is not None and high is not None:
            if lo_in and hi_in:
                return f"{what} from {_num(low)} to {_num(high)}"
            if not lo_in and not hi_in:
                return f"{what} strictly between {_num(low)} and {_num(high)}"
            if lo_in:
                return f"{what} from {_num(low)} up to (not including) {_num(high)}"
            return f"{what} above {_num(low)} and at most {_num(high)}"
        if low is not None:
            return f"{what} >= {_num(low)}" if lo_in else f"{what} > {_num(low)}"
        if high is not None:
            return f"{what} <= {_num(high)}" if hi_in else f"{what} < {_num(high)}"
        return what

    def convert(self, value: Any) -> Any:
        return int(value) if self.kind is int else float(value)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


class Options(Constraint):
    """One of a fixed set of values (compared with ==, type-checked so that 1 is not True)."""

    def __init__(self, values: Iterable[object]) -> None:
        self.values = list(values)

    def is_satisfied_by(self, value: object) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values) or (
            isinstance(value, str) and value in [v for v in self.values if isinstance(v, str)]
        )

    def describe(self) -> str:
        shown = [repr(v) for v in self.values]
        if len(shown) == 1:
            return shown[0]
        return "one of " + ", ".join(shown[:-1]) + " or " + shown[-1]


class InstanceOf(Constraint):
    """An instance of ``kind`` (a type or tuple of types), described in ``words``."""

    def __init__(self, kind: type | tuple[type, ...], words: str | None = None) -> None:
        self.kind = kind
        names = kind if isinstance(kind, tuple) else (kind,)
        self.words = words or " or ".join(f"a {k.__name__}" for k in names)

    def is_satisfied_by(self, value: object) -> bool:
        if isinstance(value, bool) and self.kind is not bool and not (isinstance(self.kind, tuple) and bool in self.kind):
            return False
        return isinstance(value, self.kind)

    def describe(self) -> str:
        return self.words


class NoneOr(Constraint):
    """None, or a value satisfying ``inner``."""

    def __init__(self, inner: Constraint) -> None:
        self.inner = inner

    def is_satisfied_by(self, value: object) -> bool:
        return value is None or self.inner.is_satisfied_by(value)

    def describe(self) -> str:
        return f"None or {self.inner.describe()}"

    def convert(self, value: Any) -> Any:
        return None if value is None else self.inner.convert(value)


def describe(constraints: Sequence[Constraint]) -> str:
    """The words for "any of these constraints"."""
    words = [c.describe() for c in constraints]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def check(name: str, value: Any, constraints: Constraint | Sequence[Constraint],
          error: type[FeatentError] = DataError) -> Any:
    """``value`` (converted by the first constraint it satisfies), or ``error`` with the uniform message."""
    rules = [constraints] if isinstance(constraints, Constraint) else list(constraints)
    for rule in rules:
        if rule.is_satisfied_by(value):
            return rule.convert(value)
    raise error(f"{name} must be {describe(rules)}, got {_shown(value)}.")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None,
              error: type[FeatentError] = DataError) -> int:
    """An integer (numpy integers accepted, booleans refused) in [low, high]."""
    return int(check(name, value, Interval(int, low, high), error))


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None, closed: str = "both",
                 error: type[FeatentError] = DataError) -> float:
    """A finite real number in the interval (``closed`` as in ``Interval``)."""
    return float(check(name, value, Interval(float, low, high, closed), error))


def check_choice(name: str, value: Any, choices: Iterable[object], error: type[FeatentError] = DataError) -> Any:
    """One of ``choices``."""
    return check(name, value, Options(choices), error)


def check_class(class_name: object, classes: Sequence[str], dataset_name: str) -> str:
    """A class of the dataset; DataError listing (the first twelve of) its classes otherwise."""
    if isinstance(class_name, str) and class_name in classes:
        return class_name
    shown = ", ".join(classes[:12]) + (", ..." if len(classes) > 12 else "")
    raise DataError(f"Class {class_name!r} is not in {dataset_name}; its classes are: {shown}.")


def validate_params(constraints: dict[str, Constraint | Sequence[Constraint]],
                    error: type[FeatentError] = DataError) -> Callable[[F], F]:
    """Decorator: check the named arguments of every call against their declared constraints.

    Values are converted as declared (numpy integers to int), so the body sees clean types. The
    declaration is kept on the function as ``__featent_constraints__`` for docs and tests.
    """

    def decorate(function: F) -> F:
        signature = inspect.signature(function)
        unknown = [name for name in constraints if name not in signature.parameters]
        if unknown:
            raise TypeError(f"{function.__qualname__} has no parameter {unknown[0]!r} to constrain.")

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{function.__name__}(): {exc}") from None
            for name, rules in constraints.items():
                if name in bound.arguments:
                    bound.arguments[name] = check(name, bound.arguments[name], rules, error)
            return function(*bound.args, **bound.kwargs)

        wrapper.__featent_constraints__ = constraints  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
