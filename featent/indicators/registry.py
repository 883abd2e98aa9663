"""The one registry of indicators: every consumer (tables, ablation, pruning, figures) iterates it.

Each indicator is known by its ``key`` everywhere in the library. The short spellings a person
types (``fe``, ``l1``, ``selectivity`` in CLI orders and saved page links) are mapped to keys here
and only here (``resolve``, ``parse_order``). Orders are written ``KEY-DIRECTION``:
``h_over_eps-desc`` sorts by H/epsilon from high to low, i.e. the least effective units first;
``desc``/``asc`` always refer to the raw value, and a bare name means its least-important-first
direction. ``random`` is the chance baseline, not an indicator.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from featent.errors import FeatentError
from featent.indicators.activation import APoZ, ClassSelectivity, ClassSelectivityMax, L1Norm
from featent.indicators.base import Indicator
from featent.indicators.entropy import ConditionalFE, FeatureEntropy, HOverEps, SelectiveRate
from featent.indicators.nisp import NISP
from featent.indicators.weights import FPGM

__all__ = [
    "Registry", "REGISTRY", "RANDOM", "INDICATOR_COLUMNS", "INDICATOR_LABELS", "LOWER_IS_BETTER", "RANKING",
    "ALL_ORDERS", "parse_order", "canonical_order", "order_label", "method_label",
]

#: The order that removes units in a seeded random sequence.
RANDOM = "random"


class Registry:
    """Indicators by key, in display order."""

    def __init__(self, indicators: Iterable[Indicator]) -> None:
        self._by_key: dict[str, Indicator] = {}
        self._spellings: dict[str, str] = {}
        for indicator in indicators:
            if indicator.key in self._by_key:
                raise ValueError(f"Indicator {indicator.key!r} is registered twice.")
            self._by_key[indicator.key] = indicator
            for spelling in (indicator.key, *indicator.aliases):
                self._spellings[spelling] = indicator.key

    def __iter__(self) -> Iterator[Indicator]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __getitem__(self, key: str) -> Indicator:
        return self._by_key[key]

    def keys(self) -> tuple[str, ...]:
        return tuple(self._by_key)

    def resolve(self, name: str) -> Indicator:
        """The indicator a key or a typed spelling (``fe``, ``l1``, ``selectivity``) names."""
        key = self._spellings.get(str(name).strip().lower())
        if key is None:
            raise FeatentError(f"Unknown indicator {name!r}; use one of: {', '.join(self.keys())}.")
        return self._by_key[key]

    def ranking(self) -> tuple[Indicator, ...]:
        """The indicators that rank units for ablation and pruning, the paper's (H/epsilon) first."""
        ranking = [i for i in self if i.ranks]
        return tuple(sorted(ranking, key=lambda i: i.key != "h_over_eps"))

    def parse_order(self, order: str) -> tuple[str, str]:
        """``"h_over_eps-desc"`` or ``"fe-desc"`` -> ("h_over_eps", "desc"); ``"l1"`` -> ("l1_norm", "asc");
        ``"random"`` -> ("random", "")."""
        text = str(order).strip().lower()
        name, _, direction = text.partition("-")
        if name == RANDOM:
            if direction:
                raise FeatentError(f"Unknown order {order!r}; the random order takes no direction, write 'random'.")
            return RANDOM, ""
        key = self._spellings.get(name)
        if key is None or not self._by_key[key].ranks:
            raise FeatentError(
                f"Unknown order {order!r}; use INDICATOR-desc or INDICATOR-asc with INDICATOR one of "
                f"{', '.join(i.key for i in self.ranking())}, or 'random'."
            )
        if not direction:
            return key, self._by_key[key].least_important_first or "asc"
        if direction not in ("desc", "asc"):
            raise FeatentError(f"Unknown order {order!r}; the direction must be 'desc' or 'asc'.")
        return key, direction

    def canonical_order(self, order: str) -> str:
        """The order as the library writes it (``fe`` -> ``h_over_eps-desc``)."""
        key, direction = self.parse_order(order)
        return key if key == RANDOM else f"{key}-{direction}"

    def method_label(self, key: str) -> str:
        """Legend name of a ranking indicator (or of the random order)."""
        return "Random" if key == RANDOM else self._by_key[key].method_label

    def order_label(self, order: str) -> str:
        """Readable name of an order, e.g. 'Feature entropy (H/ε), descending'."""
        key, direction = self.parse_order(order)
        if key == RANDOM:
            return self.method_label(key)
        return f"{self.method_label(key)}, {'descending' if direction == 'desc' else 'ascending'}"

    def orders(self) -> tuple[str, ...]:
        """Every order an ablation can follow: each ranking indicator least important first, then the
        other way, then random."""
        out = []
        for i in self.ranking():
            first = i.least_important_first or "asc"
            out += [f"{i.key}-{first}", f"{i.key}-{'asc' if first == 'desc' else 'desc'}"]
        return (*out, RANDOM)


REGISTRY = Registry([
    L1Norm(), APoZ(), ClassSelectivity(), ClassSelectivityMax(), FPGM(), NISP(),
    FeatureEntropy(), SelectiveRate(), HOverEps(), ConditionalFE(),
])

#: Table columns, in display order.
INDICATOR_COLUMNS: tuple[str, ...] = REGISTRY.keys()
#: Human-readable names for tables and plots (plus the class accuracy shown beside them).
INDICATOR_LABELS: dict[str, str] = {**{i.key: i.label for i in REGISTRY}, "accuracy": "Class accuracy"}
#: Columns where a lower value means a more effective unit.
LOWER_IS_BETTER: dict[str, bool] = {i.key: True for i in REGISTRY if i.lower_is_better}
#: Keys of the indicators that rank units (pruning's methods), H/epsilon first.
RANKING: tuple[str, ...] = tuple(i.key for i in REGISTRY.ranking())
#: Every ablation order.
ALL_ORDERS: tuple[str, ...] = REGISTRY.orders()

parse_order = REGISTRY.parse_order
canonical_order = REGISTRY.canonical_order
order_label = REGISTRY.order_label
method_label = REGISTRY.method_label
