"""The comprehensive evaluation's scoring, ranking and funding allocation, worked by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiayi.reports.evaluation import (
    DEFAULT_SCHEME,
    SATISFACTION,
    CentreScore,
    Item,
    Scheme,
    SchemeError,
    allocate_funding,
    check_scheme,
    item_points,
    scheme_from_dict,
    score_centres,
)

TWO_ITEMS = Scheme(
    "test",
    (
        Item("signing.coverage", "quantity", 60, 0.45),
        Item(SATISFACTION, "satisfaction", 40, 0.90, cap=1.1),
    ),
)


def test_the_default_scheme_weighs_quantity_quality_and_satisfaction_40_40_20() -> None:
    check_scheme(DEFAULT_SCHEME)
    weights = {
        g: sum(i.weight for i in DEFAULT_SCHEME.items if i.group == g)
        for g in ("quantity", "quality", "satisfaction")
    }
    assert weights == {"quantity": 40, "quality": 40, "satisfaction": 20}


@pytest.mark.parametrize(
    ("value", "points"),
    [
        (None, 0.0),  # no data scores nothing
        (0.0, 0.0),
        (0.225, 30.0),  # half the 45% target: half of 60 points
        (0.45, 60.0),  # on target: the full weight
        (0.60, 60.0),  # above target, capped at 1
    ],
)
def test_an_item_earns_its_weight_times_value_over_target_capped(value: float | None, points: float) -> None:
    assert item_points(TWO_ITEMS.items[0], value) == pytest.approx(points)


def test_a_cap_above_one_rewards_exceeding_the_target_up_to_the_cap() -> None:
    satisfaction = TWO_ITEMS.items[1]
    assert item_points(satisfaction, 0.90) == pytest.approx(40.0)
    assert item_points(satisfaction, 0.95) == pytest.approx(40 * 0.95 / 0.90)
    assert item_points(satisfaction, 1.00) == pytest.approx(44.0)  # 1.0 / 0.9 > 1.1: capped at 1.1


def test_it_ranks_best_first_with_shared_ranks_for_ties() -> None:
    values = {
        1: {"signing.coverage": 0.45, SATISFACTION: 0.90},  # 60 + 40 = 100
        2: {"signing.coverage": 0.30, SATISFACTION: 0.90},  # 40 + 40 = 80
        3: {"signing.coverage": 0.45, SATISFACTION: 0.45},  # 60 + 20 = 80
        4: {"signing.coverage": None, SATISFACTION: 0.90},  # 0 + 40 = 40, coverage missing
    }
    names = {
        1: "甲中心",
        2: "乙中心",
        3: "丙中心",
        4: "丁中心",
    }  # equal totals: by name (丙 < 乙 in code order)

    scores = score_centres(TWO_ITEMS, values, names)

    assert [(s.centre_id, s.total, s.rank) for s in scores] == [
        (1, 100.0, 1),
        (3, 80.0, 2),
        (2, 80.0, 2),
        (4, 40.0, 4),
    ]
    assert scores[3].missing == ["signing.coverage"]
    assert scores[0].group_total("satisfaction") == 40.0


def test_funding_is_proportional_to_score_and_sums_exactly_to_the_fen() -> None:
    # 200 points in all: 1,000,000.00 yuan splits 500,000 / 400,000 / 100,000.
    scores = _with_totals({1: 100.0, 2: 80.0, 3: 20.0})

    funding = allocate_funding(Decimal("1000000.00"), scores)

    assert funding == {1: Decimal("500000.00"), 2: Decimal("400000.00"), 3: Decimal("100000.00")}


def test_left_over_fens_go_to_the_largest_remainders() -> None:
    scores = _with_totals({1: 1.0, 2: 1.0, 3: 1.0})
    funding = allocate_funding(Decimal("100.00"), scores)
    # 10,000 fen / 3 = 3,333.33…: the first-ranked centre gets the extra fen.
    assert sorted(funding.values()) == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert sum(funding.values()) == Decimal("100.00")


def test_no_positive_score_splits_the_budget_equally() -> None:
    funding = allocate_funding(Decimal("10.00"), _with_totals({1: 0.0, 2: 0.0}))
    assert funding == {1: Decimal("5.00"), 2: Decimal("5.00")}


@given(
    st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=1, max_size=30),
    st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
)
def test_allocation_always_sums_to_the_budget_and_never_goes_negative(
    totals: list[float], budget: Decimal
) -> None:
    scores = _with_totals(dict(enumerate(totals, start=1)))
    funding = allocate_funding(budget, scores)
    assert sum(funding.values()) == budget
    assert all(amount >= 0 for amount in funding.values())


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [{"code": "x", "group": "speed", "weight": 1, "target": 1}]}, "items[0] (x).group"),
        ({"items": [{"code": "x", "group": "quality", "weight": 0, "target": 1}]}, "items[0] (x).weight"),
        ({"items": [{"code": "x", "group": "quality", "weight": 1, "target": 0}]}, "items[0] (x).target"),
        (
            {"items": [{"code": "x", "group": "quality", "weight": 1, "target": 1, "cap": 0.5}]},
            "items[0] (x).cap",
        ),
        ({"items": [{"code": "x", "group": "quality", "target": 1}]}, "items[0].weight"),
    ],
)
def test_a_bad_scheme_is_refused_naming_the_item_and_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(SchemeError) as caught:
        scheme_from_dict(raw)
    assert str(caught.value).startswith(field)


def _with_totals(totals: dict[int, float]) -> list[CentreScore]:
    """Centre scores with the given totals, through the real scorer (one item worth the total)."""
    scheme = Scheme("t", (Item("x", "quality", 100, 1.0),))
    return score_centres(
        scheme, {cid: {"x": total / 100} for cid, total in totals.items()}, {cid: str(cid) for cid in totals}
    )
