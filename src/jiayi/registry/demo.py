"""Demo accounts: one login per role, attached to real people of the generated district."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction

from jiayi.registry.choices import InstitutionKind, Profession, Relationship, Role
from jiayi.registry.models import Account, Institution, Resident, Staff, Team

DEMO_PASSWORD = "jiayi-demo-2026"  # noqa: S105  (printed to the person starting the demo)
ADMINISTRATORS_GROUP = "administrators"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    role: str
    description: str


class DemoDataMissing(Exception):
    """The district lacks what a demo account needs (generate a district first)."""


def _first(queryset_description: str, obj: object | None) -> object:
    if obj is None:
        raise DemoDataMissing(f"no {queryset_description} in the database: run `jiayi synth` first")
    return obj


def _administrators_group() -> Group:
    group, _ = Group.objects.get_or_create(name=ADMINISTRATORS_GROUP)
    # Master data only: places, institutions, staff, teams, accounts; no clinical models.
    perms = Permission.objects.filter(content_type__app_label="registry").exclude(
        content_type__model__in=["keypopulationdeclaration"]
    )
    group.permissions.set(perms)
    return group


@transaction.atomic
def create_demo_accounts(password: str = DEMO_PASSWORD) -> list[DemoAccount]:
    """Create (or reset) one account per role. Idempotent: running it twice changes nothing but passwords."""
    teams = list(Team.objects.select_related("lead", "centre").order_by("centre__code", "id"))
    if not teams:
        raise DemoDataMissing("no family-doctor teams in the database: run `jiayi synth` first")
    team = teams[0]
    other_team = next((t for t in teams if t.centre_id != team.centre_id), None)
    if other_team is None:
        raise DemoDataMissing("the district needs at least two centres for the demo")
    nurse = _first("nurse", team.members.filter(profession=Profession.NURSE).order_by("id").first())
    manager = _first(
        "centre manager",
        Staff.objects.filter(institution=team.centre, profession=Profession.MANAGER).order_by("id").first(),
    )
    hospital = _first(
        "regional medical centre",
        Institution.objects.filter(kind=InstitutionKind.REGIONAL_MEDICAL_CENTRE).order_by("id").first(),
    )
    assert isinstance(hospital, Institution)
    desk_staff = Staff.objects.filter(institution=hospital).order_by("-profession", "id").first()
    cdc_staff = Staff.objects.filter(profession=Profession.CDC_OFFICER).order_by("id").first()
    analyst_staff = Staff.objects.filter(profession=Profession.ANALYST).order_by("id").first()
    resident = _first(
        "adult head of household on the demo team's committees",
        Resident.objects.filter(
            committee__in=team.committees.all(),
            relationship=Relationship.HEAD,
            citizen_id__isnull=False,
            date_of_death__isnull=True,
            household__members__relationship=Relationship.SPOUSE,
        )
        .order_by("id")
        .first(),
    )
    plan: list[tuple[str, str, Staff | None, Resident | None, Institution | None, str]] = [
        (
            "doctor",
            Role.FAMILY_DOCTOR,
            team.lead,
            None,
            team.centre,
            f"家庭医生 {team.lead.name} @ {team.centre}",
        ),
        ("nurse", Role.TEAM_MEMBER, nurse, None, team.centre, f"团队护士 @ {team.name}"),  # type: ignore[list-item]
        ("manager", Role.CENTRE_MANAGER, manager, None, team.centre, f"中心管理者 @ {team.centre}"),  # type: ignore[list-item]
        (
            "doctor2",
            Role.FAMILY_DOCTOR,
            other_team.lead,
            None,
            other_team.centre,
            f"家庭医生 {other_team.lead.name} @ {other_team.centre}",
        ),
        ("desk", Role.REFERRAL_DESK, desk_staff, None, hospital, f"转诊台 @ {hospital}"),
        ("cdc", Role.CDC_OFFICER, cdc_staff, None, cdc_staff.institution if cdc_staff else None, "疾控人员"),
        (
            "analyst",
            Role.DISTRICT_ANALYST,
            analyst_staff,
            None,
            analyst_staff.institution if analyst_staff else None,
            "区卫健委分析员",
        ),
        ("admin", Role.ADMINISTRATOR, None, None, None, "系统管理员"),
        ("resident", Role.RESIDENT, None, resident, None, "居民"),  # type: ignore[list-item]
    ]
    admins = _administrators_group()
    created = []
    for username, role, staff, person, institution, description in plan:
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = role == Role.ADMINISTRATOR
        user.is_superuser = False
        if staff is not None:
            user.last_name, user.first_name = staff.name[:1], staff.name[1:]
        elif person is not None:
            user.last_name, user.first_name = person.name[:1], person.name[1:]
        user.save()
        if role == Role.ADMINISTRATOR:
            user.groups.add(admins)
        Account.objects.update_or_create(
            user=user,
            defaults={"role": role, "staff": staff, "resident": person, "institution": institution},
        )
        created.append(DemoAccount(username=username, role=role, description=description))
    return created
