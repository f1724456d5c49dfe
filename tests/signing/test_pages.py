"""Signing pages per role: the panel, a signing with its actions, the manager's load and transfer pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from jiayi.audit.models import AuditEntry, Outcome
from jiayi.registry.models import Resident, Staff, Team
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import ServicePackage, Signing

from .helpers import english_client_for, make_gp, sign

pytestmark = pytest.mark.django_db
UNMASKED = re.compile(r"\d{17}[\dXx]|1[3-9]\d{9}")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def package_now(packages_now: list[ServicePackage]) -> ServicePackage:
    return packages_now[0]


@pytest.fixture
def doctor(personas: Any) -> Client:
    return english_client_for(personas.doctor)


@pytest.fixture
def manager(personas: Any) -> Client:
    return english_client_for(personas.manager)


def _signed(resident: Resident, doctor: Staff, package: ServicePackage, *, confirm: bool = True) -> Signing:
    return sign(resident, doctor, package, confirm=confirm, today=timezone.localdate())


@pytest.fixture
def own_signing(resident_in_scope: Resident, doctor_staff: Staff, package_now: ServicePackage) -> Signing:
    return _signed(resident_in_scope, doctor_staff, package_now, confirm=False)


@pytest.fixture
def other_signing(personas: Any, resident_out_of_scope: Resident, package_now: ServicePackage) -> Signing:
    return _signed(resident_out_of_scope, personas.other_doctor.account.staff, package_now)


def test_it_shows_the_family_doctor_their_teams_panel_with_masked_identifiers(
    doctor: Client, own_signing: Signing, other_signing: Signing
) -> None:
    page = doctor.get("/signing/?status=all")

    assert page.status_code == 200
    html = page.content.decode()
    assert f"/signing/{own_signing.pk}/" in html
    assert f"/signing/{other_signing.pk}/" not in html
    assert own_signing.resident.name in html
    assert not UNMASKED.search(html)
    assert "1 signing to confirm" in html


def test_it_filters_and_pages_the_panel_with_htmx(
    doctor: Client, residents_in_scope: list[Resident], doctor_staff: Staff, package_now: ServicePackage
) -> None:
    signings = [_signed(r, doctor_staff, package_now) for r in residents_in_scope]
    Signing.objects.filter(pk=signings[0].pk).update(ends_on=timezone.localdate())

    expiring = doctor.get("/signing/?expiring_within=10", **HTMX)
    html = expiring.content.decode()
    assert "<html" not in html
    assert html.count('href="/signing/') == 1
    assert f"/signing/{signings[0].pk}/" in html
    assert "expiring" in html

    by_package = doctor.get(f"/signing/?package={package_now.code}&mine=on")
    assert by_package.context["page"].paginator.count == len(signings)
    by_age = doctor.get("/signing/?age_band=65%2B")
    assert all(row.age >= 65 for row in by_age.context["rows"])
    assert doctor.get("/signing/?package=NOPE").status_code == 200
    assert doctor.get("/signing/?expiring_within=-3").context["page"].paginator.count == 0


def test_it_answers_404_for_another_teams_signing_through_pages_and_api(
    doctor: Client, other_signing: Signing
) -> None:
    assert doctor.get(f"/signing/{other_signing.pk}/").status_code == 404
    assert doctor.get("/signing/999999999/").status_code == 404
    assert doctor.post(f"/signing/{other_signing.pk}/terminate/", {"reason": "death"}).status_code == 404
    assert doctor.get(f"/api/signing/signings/{other_signing.pk}").status_code == 404
    other_signing.refresh_from_db()
    assert other_signing.status == SigningStatus.ACTIVE
    assert AuditEntry.objects.filter(
        resource_type="signing", resource_id=str(other_signing.pk), outcome=Outcome.DENIED
    ).exists()


def test_it_hides_the_signing_pages_from_other_roles(personas: Any, own_signing: Signing) -> None:
    for user in (personas.desk, personas.cdc, personas.analyst, personas.resident):
        client = english_client_for(user)
        assert client.get(f"/signing/{own_signing.pk}/").status_code == 404
        assert client.get("/signing/centre/").status_code == 404
    for user in (personas.desk, personas.cdc, personas.analyst):
        assert english_client_for(user).get("/signing/").status_code == 404
    # A resident's "Signings" menu leads to online signing instead of a panel.
    resident_menu = english_client_for(personas.resident).get("/signing/")
    assert (resident_menu.status_code, resident_menu["Location"]) == (302, "/signing/online/")
    assert english_client_for(personas.doctor).get("/signing/centre/").status_code == 404
    assert english_client_for(personas.doctor).get("/signing/transfer/").status_code == 404


def test_it_shows_the_history_and_confirms_with_htmx(doctor: Client, own_signing: Signing) -> None:
    page = doctor.get(f"/signing/{own_signing.pk}/")
    assert page.status_code == 200
    assert "Confirm the signing" in page.content.decode()

    confirmed = doctor.post(f"/signing/{own_signing.pk}/confirm/", **HTMX)

    assert confirmed.status_code == 200
    html = confirmed.content.decode()
    assert 'id="signing"' in html
    assert "<html" not in html
    assert "The signing is confirmed." in html
    # Renewal opens a month before the end, so a new signing offers no renewal yet.
    assert "Renew for another year" not in html
    own_signing.refresh_from_db()
    assert own_signing.status == SigningStatus.ACTIVE
    assert list(own_signing.events.values_list("to_status", "actor__username")) == [
        (SigningStatus.PENDING, None),
        (SigningStatus.ACTIVE, "doctor"),
    ]


def test_it_declines_only_with_a_reason(doctor: Client, own_signing: Signing) -> None:
    refused = doctor.post(f"/signing/{own_signing.pk}/decline/", {"reason": "  "}, **HTMX)
    assert refused.status_code == 422
    assert "reason is required" in refused.content.decode()

    declined = doctor.post(f"/signing/{own_signing.pk}/decline/", {"reason": "已在外区签约"}, **HTMX)
    assert declined.status_code == 200
    own_signing.refresh_from_db()
    assert own_signing.status == SigningStatus.DECLINED
    assert "已在外区签约" in declined.content.decode()


def test_it_terminates_renews_and_switches_doctor(
    doctor: Client,
    residents_in_scope: list[Resident],
    doctor_staff: Staff,
    package_now: ServicePackage,
    packages_now: list[ServicePackage],
    second_gp: Staff,
) -> None:
    ending, renewing, switching = (_signed(r, doctor_staff, package_now) for r in residents_in_scope[:3])
    Signing.objects.filter(pk__in=[renewing.pk, switching.pk]).update(ends_on=timezone.localdate())

    terminated = doctor.post(f"/signing/{ending.pk}/terminate/", {"reason": "moved_away"}, **HTMX)
    too_early = doctor.post(f"/signing/{ending.pk}/renew/", **HTMX)
    renewed = doctor.post(f"/signing/{renewing.pk}/renew/", **HTMX)
    no_reason = doctor.post(f"/signing/{switching.pk}/switch/", {"family_doctor": second_gp.pk}, **HTMX)
    switched = doctor.post(
        f"/signing/{switching.pk}/switch/",
        {"family_doctor": second_gp.pk, "switch_reason": "居民要求更换"},
        **HTMX,
    )

    assert terminated.status_code == 200
    assert too_early.status_code == 422
    assert renewed.status_code == 204
    new = Signing.objects.get(previous=renewing)
    assert renewed["HX-Redirect"] == f"/signing/{new.pk}/"
    assert no_reason.status_code == 422
    assert switched.status_code == 204
    moved = Signing.objects.get(previous=switching)
    assert moved.family_doctor == second_gp
    assert moved.events.get().note == "居民要求更换"


def test_it_switches_doctor_within_the_period_from_the_signing_page(
    doctor: Client,
    resident_in_scope: Resident,
    doctor_staff: Staff,
    package_now: ServicePackage,
    second_gp: Staff,
) -> None:
    own_signing = _signed(resident_in_scope, doctor_staff, package_now)
    page = doctor.get(f"/signing/{own_signing.pk}/")
    assert 'data-action="switch-now"' in page.content.decode()

    no_reason = doctor.post(f"/signing/{own_signing.pk}/switch_now/", {"family_doctor": second_gp.pk}, **HTMX)
    switched = doctor.post(
        f"/signing/{own_signing.pk}/switch_now/",
        {"family_doctor": second_gp.pk, "reason": "居民申请期内更换"},
        **HTMX,
    )

    assert no_reason.status_code == 422
    assert switched.status_code == 204
    moved = Signing.objects.get(previous=own_signing)
    assert switched["HX-Redirect"] == f"/signing/{moved.pk}/"
    assert (moved.family_doctor, moved.ends_on) == (second_gp, own_signing.ends_on)


def test_it_links_the_resident_page_to_counter_signing_then_to_the_signing(
    doctor: Client, resident_in_scope: Resident, doctor_staff: Staff, package_now: ServicePackage
) -> None:
    before = doctor.get(f"/residents/{resident_in_scope.pk}/").content.decode()
    assert f'href="/signing/counter/{resident_in_scope.pk}/"' in before

    signing = _signed(resident_in_scope, doctor_staff, package_now)
    after = doctor.get(f"/residents/{resident_in_scope.pk}/").content.decode()

    assert 'data-link="counter-sign"' not in after
    assert f'href="/signing/{signing.pk}/"' in after


def test_it_shows_the_manager_load_per_doctor_and_coverage(
    manager: Client,
    residents_in_scope: list[Resident],
    doctor_staff: Staff,
    package_now: ServicePackage,
) -> None:
    for resident in residents_in_scope[:3]:
        _signed(resident, doctor_staff, package_now)
    Team.objects.filter(members=doctor_staff).update(panel_capacity=2)

    page = manager.get("/signing/centre/")

    assert page.status_code == 200
    loads = {load.doctor.pk: load for load in page.context["loads"]}
    assert loads[doctor_staff.pk].active == 3
    assert loads[doctor_staff.pk].over
    html = page.content.decode()
    assert "over capacity" in html
    coverage = page.context["coverage"]
    changzhu = sum(1 for r in residents_in_scope[:3] if r.is_resident and r.date_of_death is None)
    assert sum(row.signed for row in coverage) == changzhu
    assert all(row.signed <= row.residents for row in coverage)


def test_it_previews_then_applies_a_panel_transfer(
    manager: Client,
    residents_in_scope: list[Resident],
    doctor_staff: Staff,
    package_now: ServicePackage,
) -> None:
    signings = [_signed(r, doctor_staff, package_now) for r in residents_in_scope[:4]]
    centre = doctor_staff.institution.centre
    receivers = [make_gp(centre, "T-GP-21"), make_gp(centre, "T-GP-22")]
    body = {"from_doctor": doctor_staff.pk, "to_doctors": [d.pk for d in receivers]}

    preview = manager.post("/signing/transfer/", body, **HTMX)
    assert preview.status_code == 200
    assert "Apply the transfer" in preview.content.decode()
    assert [r["taking"] for r in preview.context["receivers"]] == [2, 2]
    assert Signing.objects.filter(pk__in=[s.pk for s in signings], status=SigningStatus.ACTIVE).count() == 4

    applied = manager.post("/signing/transfer/", {**body, "apply": "1"}, **HTMX)
    assert applied.status_code == 200
    assert preview.context["plan"].applied is False
    assert applied.context["plan"].applied is True
    assert not Signing.objects.filter(pk__in=[s.pk for s in signings], status=SigningStatus.ACTIVE).exists()
    moved = Signing.objects.filter(previous__in=signings, status=SigningStatus.ACTIVE)
    assert sorted(moved.values_list("family_doctor__code", flat=True)) == [
        "T-GP-21",
        "T-GP-21",
        "T-GP-22",
        "T-GP-22",
    ]

    refused = manager.post("/signing/transfer/", {"from_doctor": doctor_staff.pk}, **HTMX)
    assert "at least one family doctor" in refused.content.decode()
