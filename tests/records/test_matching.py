"""Scoring an incoming person record against a resident (records.matching): weights and thresholds,
on a hand-built set of near-duplicates."""

from __future__ import annotations

from datetime import date

import pytest

from jiayi.records import matching
from jiayi.records.matching import Person, score

WANG = Person("王小明", date(1956, 3, 14), "male", "13812345678")


@pytest.mark.parametrize(
    ("incoming", "total", "decision"),
    [
        # Everything agrees (phone written with the country code and spaces).
        (Person("王 小明", date(1956, 3, 14), "male", "+86 138 1234 5678"), 1.0, matching.LINK),
        # Same person, no phone given: name, birth date and sex are not certain enough on their own.
        (Person("王小明", date(1956, 3, 14), "male", ""), 0.75, matching.REVIEW_QUEUE),
        # A homophone in the given name, everything else equal.
        (Person("王晓明", date(1956, 3, 14), "male", "13812345678"), 0.825, matching.REVIEW_QUEUE),
        # One digit of the birth date typed wrong (the year, or the day).
        (Person("王小明", date(1965, 3, 14), "male", "13812345678"), 0.82, matching.REVIEW_QUEUE),
        (Person("王小明", date(1956, 3, 3), "male", "13812345678"), 0.82, matching.REVIEW_QUEUE),
        # Name and birth date agree but the sex differs: still worth a look.
        (Person("王小明", date(1956, 3, 14), "female", ""), 0.65, matching.REVIEW_QUEUE),
        # Only the birth date and sex agree: a different person.
        (Person("李建国", date(1956, 3, 14), "male", ""), 0.4, matching.PROVISIONAL),
        # A near name, the same birth date and sex, no phone: worth a look.
        (Person("王晓明", date(1956, 3, 14), "male", ""), 0.575, matching.REVIEW_QUEUE),
        # Same birth date and phone, other name and sex (twins sharing a phone): worth a look.
        (Person("李丽", date(1956, 3, 14), "female", "13812345678"), 0.55, matching.REVIEW_QUEUE),
        # Same name, other birth year and month, other phone.
        (Person("王小明", date(1971, 8, 14), "male", "13900000000"), 0.45, matching.PROVISIONAL),
    ],
)
def test_it_scores_near_duplicates_with_the_documented_weights(incoming, total, decision):
    found = score(incoming, WANG)
    assert found.total == pytest.approx(total)
    assert found.decision == decision
    assert sum(found.parts.values()) == pytest.approx(found.total)


def test_a_citizen_id_on_both_sides_decides_alone():
    a = Person("王小明", date(1956, 3, 14), "male", "13812345678", "310105195603140017")
    same = Person("Wang Xiaoming", None, "", "", "310105195603140017")
    other = Person("王小明", date(1956, 3, 14), "male", "13812345678", "310105195603140033")
    assert score(same, a).total == 1.0
    assert score(other, a).total == 0.0
    assert score(other, a).parts == {"citizen_id": 0.0}


def test_the_swapped_date_credit_needs_the_same_year():
    assert matching.birth_date_credit(date(1956, 3, 4), date(1956, 4, 3)) == matching.NEAR_BIRTH_DATE
    assert matching.birth_date_credit(date(1956, 3, 4), date(1957, 4, 3)) == 0.0
    assert matching.birth_date_credit(None, date(1957, 4, 3)) == 0.0


def test_names_differing_in_the_family_name_get_no_credit():
    assert matching.name_credit("王小明", "汪小明") == 0.0
    assert matching.name_credit("王小明", "王小明明") == 0.0
    assert matching.name_credit("Li Wei", "li  wei") == 1.0


def test_the_best_match_is_the_highest_score_and_ties_go_to_the_lowest_id():
    candidates = [
        (7, Person("王小明", date(1956, 3, 14), "male", "")),
        (3, Person("王小明", date(1956, 3, 14), "male", "")),
        (5, Person("王晓明", date(1956, 3, 14), "male", "")),
    ]
    found = matching.best_match(WANG, candidates)
    assert found is not None
    assert (found[0], found[1].total) == (3, 0.75)
    assert matching.best_match(WANG, []) is None
