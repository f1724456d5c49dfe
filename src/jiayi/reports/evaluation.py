"""Comprehensive evaluation of community health centres (社区卫生服务综合评价): a scoring model over
indicator values grouped into quantity, quality and satisfaction, a ranking, and funding allocated in
proportion to the scores (seed 000 六(三), seed 002 四.5: evaluation linked to the basic public health
and signing-service funds).

Everything here is pure: the scheme is data, validated by `check_scheme`, and the inputs are plain
mappings, so the same functions serve the report, the page and the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

GROUPS = ("quantity", "quality", "satisfaction")
SATISFACTION = "satisfaction.score"  # the survey score of a centre, a fraction in [0, 1]


@dataclass(frozen=True)
class Item:
    """One scored measure: its code (an indicator code or `satisfaction.score`), group, weight in
    points, the target that earns the full weight, and the cap on value / target (a cap above 1 rewards
    exceeding the target, up to the cap)."""

    code: str
    group: str
    weight: float
    target: float
    cap: float = 1.0


@dataclass(frozen=True)
class Scheme:
    name: str
    items: tuple[Item, ...]

    @property
    def total_weight(self) -> float:
        return sum(item.weight for item in self.items)


# Operational choice (documented in the product): 40 points of quantity, 40 of quality and 20 of
# satisfaction; the targets are the annex's; no bonus beyond the target.
DEFAULT_SCHEME = Scheme(
    "default",
    (
        Item("signing.coverage", "quantity", 10, 0.45),
        Item("signing.key_coverage", "quantity", 10, 0.70),
        Item("elderly.management_rate", "quantity", 10, 0.70),
        Item("ehr.filing_rate", "quantity", 10, 0.75),
        Item("htn.signed_standard_rate", "quality", 10, 0.80),
        Item("dm.signed_standard_rate", "quality", 10, 0.80),
        Item("ehr.signed_standard_rate", "quality", 10, 1.00),
        Item("signing.visit_compliance", "quality", 10, 0.80),
        Item(SATISFACTION, "satisfaction", 20, 0.90),
    ),
)


class SchemeError(ValueError):
    pass


def check_scheme(scheme: Scheme) -> None:
    """Refuse a scheme that cannot score: unknown group, non-positive weight or target, cap below 1,
    a code twice, no items."""
    if not scheme.items:
        raise SchemeError("items: a scheme needs at least one item")
    seen: set[str] = set()
    for index, item in enumerate(scheme.items):
        where = f"items[{index}] ({item.code})"
        if item.group not in GROUPS:
            raise SchemeError(f"{where}.group: must be one of {', '.join(GROUPS)}, got {item.group!r}")
        if item.weight <= 0:
            raise SchemeError(f"{where}.weight: must be positive, got {item.weight}")
        if item.target <= 0:
            raise SchemeError(f"{where}.target: must be positive, got {item.target}")
        if item.cap < 1:
            raise SchemeError(f"{where}.cap: must be at least 1, got {item.cap}")
        if item.code in seen:
            raise SchemeError(f"{where}.code: {item.code} appears twice")
        seen.add(item.code)


def scheme_from_dict(data: Mapping[str, object]) -> Scheme:
    """A scheme from its JSON form: `{"name": ..., "items": [{"code", "group", "weight", "target",
    "cap"}]}`."""
    raw_items = data.get("items")
    if not isinstance(raw_items, list):
        raise SchemeError("items: must be a list")
    items: list[Item] = []
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            raise SchemeError(f"items[{index}]: must be an object")
        try:
            items.append(
                Item(
                    code=str(raw["code"]),
                    group=str(raw["group"]),
                    weight=float(raw["weight"]),
                    target=float(raw["target"]),
                    cap=float(raw.get("cap", 1.0)),
                )
            )
        except KeyError as exc:
            raise SchemeError(f"items[{index}].{exc.args[0]}: is required") from None
        except (TypeError, ValueError):
            raise SchemeError(f"items[{index}]: weight, target and cap must be numbers") from None
    scheme = Scheme(str(data.get("name", "custom")), tuple(items))
    check_scheme(scheme)
    return scheme


@dataclass(frozen=True)
class ItemScore:
    code: str
    group: str
    value: float | None
    points: float
    weight: float


@dataclass
class CentreScore:
    centre_id: int
    name: str
    items: list[ItemScore] = field(default_factory=list)
    rank: int = 0
    funding: Decimal = Decimal("0")

    @property
    def total(self) -> float:
        return round(sum(item.points for item in self.items), 2)

    def group_total(self, group: str) -> float:
        return round(sum(item.points for item in self.items if item.group == group), 2)

    @property
    def missing(self) -> list[str]:
        """Measures without a value (no denominator, or no survey): they score nothing, and say so."""
        return [item.code for item in self.items if item.value is None]


def item_points(item: Item, value: float | None) -> float:
    """weight × min(value / target, cap); a missing or negative value earns nothing."""
    if value is None or value <= 0:
        return 0.0
    return round(item.weight * min(value / item.target, item.cap), 4)


def score_centres(
    scheme: Scheme,
    values: Mapping[int, Mapping[str, float | None]],
    names: Mapping[int, str],
) -> list[CentreScore]:
    """Score every centre of `values` (centre id → code → value) and rank them, best first.

    Ties share a rank (1, 2, 2, 4); equal totals are ordered by name so the table is stable.
    """
    check_scheme(scheme)
    scores: list[CentreScore] = []
    for centre_id, by_code in values.items():
        score = CentreScore(centre_id, names.get(centre_id, str(centre_id)))
        for item in scheme.items:
            value = by_code.get(item.code)
            score.items.append(ItemScore(item.code, item.group, value, item_points(item, value), item.weight))
        scores.append(score)
    scores.sort(key=lambda s: (-s.total, s.name, s.centre_id))
    previous: float | None = None
    for position, score in enumerate(scores, start=1):
        score.rank = position if score.total != previous else scores[position - 2].rank
        previous = score.total
    return scores


def allocate_funding(budget: Decimal, scores: Sequence[CentreScore]) -> dict[int, Decimal]:
    """Split `budget` (yuan, to the fen) in proportion to the scores, exactly: the shares are rounded down
    to the fen and the fens left over go one each to the largest remainders (ties to the better rank).

    A budget with no positive score anywhere is split equally, so the fund is never lost.
    """
    if budget < 0:
        raise ValueError(f"budget: must not be negative, got {budget}")
    if not scores:
        return {}
    fen = Decimal("0.01")
    cents = int((budget / fen).to_integral_value(rounding=ROUND_DOWN))
    weights = [Decimal(str(max(score.total, 0.0))) for score in scores]
    total = sum(weights)
    if total == 0:
        weights = [Decimal(1)] * len(scores)
        total = Decimal(len(scores))
    exact = [Decimal(cents) * weight / total for weight in weights]
    floors = [int(share.to_integral_value(rounding=ROUND_DOWN)) for share in exact]
    left = cents - sum(floors)
    order = sorted(range(len(scores)), key=lambda i: (-(exact[i] - floors[i]), scores[i].rank, i))
    for i in order[:left]:
        floors[i] += 1
    return {score.centre_id: Decimal(floors[i]) * fen for i, score in enumerate(scores)}
