"""Merging duplicate residents moves every row they own in every app, and unmerging restores exactly.

The rows are made for two residents of the synthetic district: one row in every model that refers to a
resident (found the same way the merge finds them, so a model added later is covered here too), plus
rows that clash with the survivor's under each "one per resident" rule.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone

from jiayi.audit.models import AuditEntry
from jiayi.audit.services import verify_chain
from jiayi.records import linkage
from jiayi.records.models import ResidentMerge
from jiayi.registry.models import Household, Resident

pytestmark = pytest.mark.django_db
_serial = itertools.count(1)
NOW = timezone.make_aware(datetime(2025, 6, 1, 9, 30))

# Values that satisfy the models' own checks where a neutral value would not.
OVERRIDES: dict[str, dict[str, Any]] = {
    "points.pointentry": {"kind": "earn", "points": 5},
    "signing.signing": {"status": "expired"},
    "care.programmeenrolment": {"status": "ended"},
    "referrals.slot": {"start": NOW, "end": NOW + timedelta(minutes=15)},
    "referrals.appointment": {"status": "cancelled"},
}


def _value(field: models.Field[Any, Any]) -> Any:
    n = next(_serial)
    if field.choices:
        return field.choices[0][0]
    kind = field.get_internal_type()
    if kind in {"CharField", "TextField", "SlugField", "EmailField", "URLField"}:
        return f"t{n}"[: field.max_length or 40]
    if kind in {"DateTimeField"}:
        return NOW
    if kind == "DateField":
        return date(2025, 6, 1)
    if kind == "DecimalField":
        return Decimal("1")
    if kind == "FloatField":
        return 1.0
    if kind == "BooleanField":
        return False
    if kind == "JSONField":
        return {}
    if kind == "DurationField":
        return timedelta(days=1)
    if kind == "BinaryField":
        return b"t"
    if kind in {"GenericIPAddressField"}:
        return "127.0.0.1"
    return 1 if "Integer" in kind or "Positive" in kind else f"t{n}"


def make(model: type[models.Model], **given: Any) -> Any:
    """A row of `model` with every required value filled: related rows are the first existing ones (or
    made), one-to-one targets always new."""
    values: dict[str, Any] = dict(OVERRIDES.get(model._meta.label_lower, {}))
    values.update(given)
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in values or field.attname in values:
            continue
        if field.has_default() or field.null or getattr(field, "auto_now", False):
            continue
        if getattr(field, "auto_now_add", False):
            continue
        if field.is_relation:
            related = field.related_model
            assert isinstance(related, type)
            if related is Resident:
                # Someone other than the pair the tests merge (they are the lowest ids).
                values[field.name] = Resident.objects.order_by("-pk").first()
            elif related is User:
                values[field.name] = User.objects.create(username=f"merge-test-{next(_serial)}")
            elif field.unique:
                values[field.name] = make(related)
            else:
                values[field.name] = related._default_manager.order_by("pk").first() or make(related)
        else:
            values[field.name] = _value(field)
    if model._meta.label_lower == "points.pointentry" and values.get("rule") is None:
        from jiayi.points.models import PointRule

        values["rule"] = PointRule.objects.order_by("pk").first() or make(PointRule)
    return model._default_manager.create(**values)


def owned(resident_id: int) -> dict[tuple[str, str], set[int]]:
    """Every row referring to the resident, by (model, field)."""
    return {
        (link.name, link.field): set(
            link.model._default_manager.filter(**{link.field: resident_id}).values_list("pk", flat=True)
        )
        for link in linkage.resident_links()
    }


def balances(*residents: Resident) -> dict[int, int]:
    from jiayi.points.models import PointAccount

    return dict(PointAccount.objects.filter(resident__in=residents).values_list("resident_id", "balance"))


@pytest.fixture
def pair(personas) -> tuple[Resident, Resident]:
    found = list(
        Resident.objects.filter(merged_into__isnull=True, household__isnull=False)
        .exclude(accounts__isnull=False)
        .order_by("id")[:2]
    )
    survivor, duplicate = found
    Resident.objects.filter(pk=survivor.pk).update(household=None, relationship="")
    survivor.refresh_from_db()
    return survivor, duplicate


def test_every_link_to_a_resident_is_found_and_named_once():
    links = linkage.resident_links()
    found = {(link.model._meta.label_lower, link.field) for link in links}
    assert {("records.observation", "resident"), ("points.pointaccount", "resident")} <= found
    assert {("care.followup", "resident"), ("signing.consent", "proxy")} <= found
    assert {("referrals.appointment", "resident"), ("records.accountauthorisation", "member")} <= found
    assert not found & linkage.NOT_MOVED
    # Rows are listed by model name, so no two models may share one.
    names = {link.name: link.model for link in links}
    assert len(names) == len({link.model for link in links})


def test_a_merge_moves_a_row_of_every_model_and_unmerge_restores_exactly(pair, personas):
    survivor, duplicate = pair
    for link in linkage.resident_links():
        make(link.model, **{link.field: duplicate})
    before = {survivor.pk: owned(survivor.pk), duplicate.pk: owned(duplicate.pk)}
    assert all(before[duplicate.pk].values()), "the duplicate has a row through every link"
    money = balances(survivor, duplicate)

    merge = linkage.merge_residents(personas.admin, survivor, duplicate)

    after = owned(survivor.pk)
    left = owned(duplicate.pk)
    for key, rows in before[duplicate.pk].items():
        assert rows <= after[key], key
        assert not left[key], key
    listed = {(entry[0], entry[2] if len(entry) > 2 else "resident", entry[1]) for entry in merge.moved}
    expected = {(name, field, pk) for (name, field), rows in before[duplicate.pk].items() for pk in rows}
    assert expected <= listed
    survivor.refresh_from_db()
    assert survivor.household_id == duplicate.household_id  # joined the duplicate's household
    audited = AuditEntry.objects.filter(detail__merge=merge.pk)
    assert audited.count() == len(merge.moved)
    assert set(audited.values_list("resident_id", flat=True)) == {survivor.pk}

    linkage.unmerge(personas.admin, merge)

    assert owned(survivor.pk) == before[survivor.pk]
    assert owned(duplicate.pk) == before[duplicate.pk]
    assert balances(survivor, duplicate) == money
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert survivor.household_id is None
    assert duplicate.merged_into_id is None
    assert AuditEntry.objects.filter(detail__unmerge=merge.pk).count() == len(merge.moved)
    assert verify_chain() is None


def test_rows_clashing_with_the_survivors_stay_with_the_duplicate(pair, personas):
    from jiayi.care.models import Assessment
    from jiayi.records.models import AccountAuthorisation

    survivor, duplicate = pair
    ours = make(Assessment, resident=survivor, year=2025)
    clash = make(Assessment, resident=duplicate, year=2025)
    other_year = make(Assessment, resident=duplicate, year=2024)
    to_survivor = make(AccountAuthorisation, resident=duplicate, member=survivor)

    merge = linkage.merge_residents(personas.admin, survivor, duplicate)

    assert set(Assessment.objects.filter(resident=survivor).values_list("pk", flat=True)) == {
        ours.pk,
        other_year.pk,
    }
    assert Assessment.objects.get(pk=clash.pk).resident_id == duplicate.pk
    assert AccountAuthorisation.objects.get(pk=to_survivor.pk).resident_id == duplicate.pk
    entry = AuditEntry.objects.get(
        resource_type="resident_merge", resource_id=str(merge.pk), resident_id=survivor.pk
    )
    kept = {(name, pk, rule) for name, pk, _, rule in entry.detail["kept"]}
    assert kept == {
        ("assessment", clash.pk, "care_assessment_once_a_year"),
        ("accountauthorisation", to_survivor.pk, "authorisation_of_oneself"),
    }

    linkage.unmerge(personas.admin, merge)
    assert Assessment.objects.get(pk=other_year.pk).resident_id == duplicate.pk


def test_point_balances_follow_the_ledger_entries(pair, personas):
    from jiayi.points.models import PointAccount, PointEntry

    survivor, duplicate = pair
    PointAccount.objects.create(resident=survivor, balance=7)
    theirs = PointAccount.objects.create(resident=duplicate, balance=0)
    make(PointEntry, resident=survivor, points=7, event_key="merge-test:a")
    for i, points in enumerate((5, 11)):
        make(PointEntry, resident=duplicate, points=points, event_key=f"merge-test:b{i}")
    PointAccount.objects.filter(pk=theirs.pk).update(balance=16)

    merge = linkage.merge_residents(personas.admin, survivor, duplicate)

    # The survivor's account stays; the duplicate's is kept with a balance of what is left on it.
    assert balances(survivor, duplicate) == {survivor.pk: 23, duplicate.pk: 0}
    linkage.unmerge(personas.admin, merge)
    assert balances(survivor, duplicate) == {survivor.pk: 7, duplicate.pk: 16}


def test_a_point_account_moves_when_the_survivor_has_none(pair, personas):
    from jiayi.points.models import PointAccount, PointEntry

    survivor, duplicate = pair
    account = PointAccount.objects.create(resident=duplicate, balance=5)
    make(PointEntry, resident=duplicate, points=5, event_key="merge-test:c")
    merge = linkage.merge_residents(personas.admin, survivor, duplicate)
    assert PointAccount.objects.get(pk=account.pk).resident_id == survivor.pk
    assert balances(survivor, duplicate) == {survivor.pk: 5}
    linkage.unmerge(personas.admin, merge)
    assert balances(survivor, duplicate) == {duplicate.pk: 5}


def test_two_open_signings_refuse_the_merge_and_change_nothing(pair, personas):
    from jiayi.signing.models import Signing

    survivor, duplicate = pair
    make(Signing, resident=survivor, status="active")
    theirs = make(Signing, resident=duplicate, status="active")
    before = owned(duplicate.pk)
    with pytest.raises(linkage.MergeError, match="both residents have an open signing"):
        linkage.merge_residents(personas.admin, survivor, duplicate)
    assert owned(duplicate.pk) == before
    assert Signing.objects.get(pk=theirs.pk).resident_id == duplicate.pk
    assert not ResidentMerge.objects.filter(duplicate=duplicate).exists()
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None


def test_an_existing_merge_in_the_short_form_still_unmerges(pair, personas):
    from jiayi.care.models import FollowUp

    survivor, duplicate = pair
    row = make(FollowUp, resident=duplicate)
    merge = linkage.merge_residents(personas.admin, survivor, duplicate)
    assert ["followup", row.pk] in merge.moved
    linkage.unmerge(personas.admin, merge)
    assert FollowUp.objects.get(pk=row.pk).resident_id == duplicate.pk


def test_household_is_untouched_when_the_survivor_has_one(pair, personas):
    survivor, duplicate = pair
    household = Household.objects.exclude(pk=duplicate.household_id).order_by("pk").first()
    assert household is not None
    Resident.objects.filter(pk=survivor.pk).update(household=household, relationship="head")
    survivor.refresh_from_db()
    merge = linkage.merge_residents(personas.admin, survivor, duplicate)
    survivor.refresh_from_db()
    assert survivor.household_id == household.pk
    assert not [e for e in merge.moved if e[0] == linkage.HOUSEHOLD]
