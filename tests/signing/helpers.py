"""Small helpers shared by the signing tests."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from jiayi.registry.choices import Profession, TeamRole
from jiayi.registry.models import Institution, Place, Resident, Staff, Team, TeamMembership
from jiayi.signing import services
from jiayi.signing.choices import PackageKind
from jiayi.signing.models import Consent, ServicePackage, Signing

# Services take `today`; a fixed one keeps the dates in the assertions readable.
TODAY = date(2026, 3, 1)


def make_package(
    district: Place, year: int, code: str = "BASIC", kind: str = PackageKind.BASIC
) -> ServicePackage:
    return ServicePackage.objects.create(
        district=district,
        year=year,
        code=code,
        name=f"{code} {year}",
        kind=kind,
        contacts_per_year=4,
        long_prescription_days=60,
    )


def make_gp(centre: Institution, code: str) -> Staff:
    """Another GP at `centre`, leading a team of their own."""
    doctor = Staff.objects.create(
        code=code,
        name=f"医生{code[-2:]}",
        profession=Profession.FAMILY_DOCTOR,
        institution=centre,
        is_registered_gp=True,
    )
    team = Team.objects.create(name=f"团队{code}", centre=centre, lead=doctor)
    TeamMembership.objects.create(team=team, staff=doctor, team_role=TeamRole.LEAD)
    return doctor


def consent_for(resident: Resident, actor: User | None = None) -> Consent:
    return services.do_record_consent(actor, resident, text_version="2026.1")


def sign(
    resident: Resident,
    doctor: Staff,
    package: ServicePackage,
    *,
    actor: User | None = None,
    confirm: bool = False,
    today: date = TODAY,
    **terms: Any,
) -> Signing:
    """A signing made the ordinary way: consent (unless on file), create, and optionally confirm."""
    if services.consent_in_force(resident) is None:
        consent_for(resident, actor)
    signing = services.do_create_signing(
        actor, resident, services.SigningTerms(family_doctor=doctor, package=package, **terms), today=today
    )
    return services.do_confirm_signing(actor, signing) if confirm else signing


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, url: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(url, json.dumps(data or {}, default=str), content_type="application/json")


def english_client_for(user: User) -> Client:
    """A logged-in client reading the pages in English (they open in Chinese unless the user switches)."""
    client = client_for(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client
