"""The district's registry: places, institutions, staff and teams, households and residents."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

from jiayi.crypto.fields import EncryptedCharField
from jiayi.registry import identity
from jiayi.registry.choices import (
    AlternativeIdType,
    InstitutionKind,
    KeyPopulation,
    PlaceKind,
    PlaceLevel,
    Profession,
    Relationship,
    Role,
    Sex,
    TeamRole,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User  # noqa: F401


class Place(models.Model):
    """An administrative area: city → district → sub-district/town → committee (居委/村委).

    Codes follow GB/T 2260 for districts and the NBS statistical codes below them (12 digits padded for
    committees). A boundary is an optional GeoJSON geometry; the centroid is always set so maps and
    distances work without one.
    """

    code = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=64)
    name_en = models.CharField(max_length=64, blank=True)
    level = models.CharField(max_length=16, choices=PlaceLevel.choices)
    kind = models.CharField(max_length=24, choices=PlaceKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    centroid_lat = models.FloatField(null=True, blank=True)
    centroid_lon = models.FloatField(null=True, blank=True)
    boundary = models.JSONField(null=True, blank=True, help_text="GeoJSON geometry (WGS-84)")
    # Committees only: the centre responsible for the area and the committee's designated family doctor.
    responsible_centre = models.ForeignKey(
        "Institution", null=True, blank=True, on_delete=models.SET_NULL, related_name="served_committees"
    )
    designated_doctor = models.ForeignKey(
        "Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="designated_committees"
    )

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["level", "parent"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class ResidentialPoint(models.Model):
    """A building or courtyard where people live (居住点), geolocated."""

    code = models.CharField(max_length=20, unique=True)
    committee = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="residential_points")
    address = models.CharField(max_length=200)
    lat = models.FloatField()
    lon = models.FloatField()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.address


class Institution(models.Model):
    """A health institution, care home or functional community (功能社区), placed in the hierarchy."""

    code = models.CharField(max_length=24, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=32, choices=InstitutionKind.choices)
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="institutions")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="units",
        help_text="The centre a branch centre or station belongs to.",
    )
    address = models.CharField(max_length=200, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    opened_on = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["kind"])]

    def __str__(self) -> str:
        return self.name

    @property
    def centre(self) -> Institution:
        """The community health centre this unit reports to (itself for a centre)."""
        return self.parent if self.parent_id and self.parent is not None else self


class MedicalConsortium(models.Model):
    """A medical consortium (医联体) linking a lead hospital to community health centres."""

    name = models.CharField(max_length=100, unique=True)
    lead = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="led_consortia")
    members = models.ManyToManyField(Institution, related_name="consortia", blank=True)

    def __str__(self) -> str:
        return self.name


class Staff(models.Model):
    """A health worker with a profession, working at one institution."""

    code = models.CharField(max_length=24, unique=True, help_text="Staff number within the district.")
    name = models.CharField(max_length=64)
    sex = models.CharField(max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)
    profession = models.CharField(max_length=24, choices=Profession.choices)
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="staff")
    licence_number = models.CharField(max_length=32, blank=True)
    is_registered_gp = models.BooleanField(
        default=False, help_text="Registered as a general practitioner (counts toward GPs per 10,000)."
    )
    # Encrypted at rest (E4), as are the resident's identifiers and phone below.
    phone = EncryptedCharField(max_length=20, blank=True, purpose="phone")
    active = models.BooleanField(default=True)
    bio = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "staff"
        indexes = [models.Index(fields=["institution", "profession"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_profession_display()})"


class Team(models.Model):
    """A family-doctor team (家庭医生团队) at a centre, serving one or more committees."""

    name = models.CharField(max_length=100)
    centre = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="teams")
    lead = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="led_teams")
    members: models.ManyToManyField[Staff, TeamMembership] = models.ManyToManyField(
        Staff, through="TeamMembership", related_name="teams"
    )
    committees = models.ManyToManyField(Place, related_name="teams", blank=True)
    panel_capacity = models.PositiveIntegerField(
        default=2400, help_text="Soft cap on signed residents before the centre is warned."
    )

    class Meta:
        ordering = ["centre", "name"]
        constraints = [models.UniqueConstraint(fields=["centre", "name"], name="team_unique_name_per_centre")]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    staff = models.ForeignKey(Staff, on_delete=models.CASCADE)
    team_role = models.CharField(max_length=8, choices=TeamRole.choices, default=TeamRole.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "staff"], name="team_membership_unique")]

    def __str__(self) -> str:
        return f"{self.staff_id} in {self.team_id} ({self.team_role})"


class Household(models.Model):
    """A household (家庭/户) living at one residential point."""

    code = models.CharField(max_length=24, unique=True)
    residential_point = models.ForeignKey(
        ResidentialPoint, on_delete=models.PROTECT, related_name="households", null=True, blank=True
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Resident(models.Model):
    """A person living in (常住) or registered in (户籍) the district.

    Identified by a citizen ID (GB 11643) or, for people without one, a documented alternative
    identifier. The citizen ID's birth date and sex must agree with the record's.
    """

    # ID numbers and the phone are encrypted at rest (E4) with deterministic AES-SIV: equality lookups and
    # the unique constraints work on the ciphertext; prefix or substring searches on them do not exist.
    citizen_id = EncryptedCharField(max_length=18, unique=True, null=True, blank=True, purpose="citizen_id")
    alt_id_type = models.CharField(max_length=24, choices=AlternativeIdType.choices, blank=True)
    alt_id_number = EncryptedCharField(max_length=32, blank=True, purpose="alt_id_number")
    health_record_number = models.CharField(
        max_length=17, unique=True, null=True, blank=True, help_text="健康档案编号 (17 digits)"
    )
    name = models.CharField(max_length=64)
    sex = models.CharField(max_length=8, choices=Sex.choices)
    birth_date = models.DateField()
    phone = EncryptedCharField(max_length=20, blank=True, purpose="phone")
    committee = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="residents", null=True)
    residential_point = models.ForeignKey(
        ResidentialPoint, on_delete=models.PROTECT, related_name="residents", null=True, blank=True
    )
    household = models.ForeignKey(
        Household, on_delete=models.SET_NULL, related_name="members", null=True, blank=True
    )
    relationship = models.CharField(max_length=16, choices=Relationship.choices, blank=True)
    is_resident = models.BooleanField(default=True, help_text="常住: lives in the area ≥ 6 months")
    is_registered = models.BooleanField(default=False, help_text="户籍: household registration here")
    date_of_death = models.DateField(null=True, blank=True)
    provisional = models.BooleanField(
        default=False,
        db_default=False,  # rows bulk-loaded by column list (the district generator) leave it out
        help_text="临时档案: created from a feed record no resident matched; to be confirmed or merged",
    )
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        related_name="merged_duplicates",
        null=True,
        blank=True,
        help_text="合并: a duplicate record whose health account now lives on this resident",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(citizen_id__isnull=False) | (~Q(alt_id_type="") & ~Q(alt_id_number="")),
                name="resident_has_an_identifier",
            ),
            models.UniqueConstraint(
                fields=["alt_id_type", "alt_id_number"],
                condition=~Q(alt_id_number=""),
                name="resident_unique_alt_id",
            ),
            models.CheckConstraint(
                condition=Q(is_resident=True) | Q(is_registered=True),
                name="resident_lives_or_registered_here",
            ),
        ]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["birth_date"])]

    def __str__(self) -> str:
        return f"{identity.mask_name(self.name)} #{self.pk}"

    @property
    def masked_citizen_id(self) -> str:
        return identity.mask_citizen_id(self.citizen_id)

    @property
    def masked_phone(self) -> str:
        return identity.mask_phone(self.phone)

    @property
    def masked_identifier(self) -> str:
        if self.citizen_id:
            return self.masked_citizen_id
        return f"{self.get_alt_id_type_display()} {identity.mask_citizen_id(self.alt_id_number)}"

    def age_on(self, on: date) -> int:
        return identity.age_on(self.birth_date, on)


class KeyPopulationDeclaration(models.Model):
    """A key-population membership declared by a person (not derivable from data), with who and when."""

    resident = models.ForeignKey(
        Resident, on_delete=models.CASCADE, related_name="key_population_declarations"
    )
    key_population = models.CharField(max_length=32, choices=KeyPopulation.choices)
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    declared_at = models.DateTimeField()
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["resident", "key_population"]
        indexes = [models.Index(fields=["key_population", "valid_from"])]

    def __str__(self) -> str:
        return f"{self.key_population} since {self.valid_from}"


class Account(models.Model):
    """Links a login to who the person is in jiayi: a staff member, a resident, and their role."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account")
    role = models.CharField(max_length=24, choices=Role.choices)
    staff = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts")
    resident = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    institution = models.ForeignKey(
        Institution,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
        help_text="The institution a manager, referral desk or CDC officer acts for.",
    )

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class ApiToken(models.Model):
    """A bearer token for the REST API; only a hash of the secret is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=64)
    prefix = models.CharField(max_length=8, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.CharField(max_length=200, default="read", help_text="Space-separated: read write")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
