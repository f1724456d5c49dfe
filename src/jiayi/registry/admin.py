"""Django admin for the registry's master data, for administrators only.

Residents are written through `jiayi.registry.services` like everywhere else, so the admin form
refuses what the API refuses and every change is audited. The form never shows a stored citizen ID or
phone number: it shows them masked and keeps them unless a new value is typed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from jiayi import access
from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.registry import identity, services, tokens
from jiayi.registry.models import (
    Account,
    ApiToken,
    Household,
    Institution,
    MedicalConsortium,
    Place,
    Resident,
    ResidentialPoint,
    Staff,
    Team,
    TeamMembership,
)


def _admin_has_permission(request: HttpRequest) -> bool:
    """The admin site opens to administrators (and superusers), not to every `is_staff` login."""
    return access.can_use_admin(request.user)


admin.site.has_permission = _admin_has_permission  # type: ignore[method-assign]
admin.site.site_header = "家医 jiayi"
admin.site.site_title = "jiayi admin"


@admin.register(Place)
class PlaceAdmin(admin.ModelAdmin[Place]):
    list_display = ("code", "name", "level", "kind", "parent")
    list_filter = ("level", "kind")
    search_fields = ("code", "name", "name_en")
    list_select_related = ("parent",)
    raw_id_fields = ("parent", "responsible_centre", "designated_doctor")


@admin.register(ResidentialPoint)
class ResidentialPointAdmin(admin.ModelAdmin[ResidentialPoint]):
    list_display = ("code", "address", "committee")
    search_fields = ("code", "address")
    list_select_related = ("committee",)
    raw_id_fields = ("committee",)


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin[Institution]):
    list_display = ("code", "name", "kind", "place", "parent")
    list_filter = ("kind",)
    search_fields = ("code", "name")
    list_select_related = ("place", "parent")
    raw_id_fields = ("place", "parent")


@admin.register(MedicalConsortium)
class MedicalConsortiumAdmin(admin.ModelAdmin[MedicalConsortium]):
    list_display = ("name", "lead")
    list_select_related = ("lead",)
    filter_horizontal = ("members",)


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin[Staff]):
    list_display = ("code", "name", "profession", "institution", "is_registered_gp", "active", "masked_phone")
    list_filter = ("profession", "active", "is_registered_gp")
    search_fields = ("code", "name")
    list_select_related = ("institution",)
    raw_id_fields = ("institution",)

    @admin.display(description="phone")
    def masked_phone(self, obj: Staff) -> str:
        return identity.mask_phone(obj.phone)


class TeamMembershipInline(admin.TabularInline[TeamMembership, Team]):
    model = TeamMembership
    extra = 1
    raw_id_fields = ("staff",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ("name", "centre", "lead", "panel_capacity")
    search_fields = ("name",)
    list_select_related = ("centre", "lead")
    raw_id_fields = ("centre", "lead")
    filter_horizontal = ("committees",)
    inlines = (TeamMembershipInline,)


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin[Household]):
    list_display = ("code", "residential_point")
    search_fields = ("^code",)
    list_select_related = ("residential_point",)
    raw_id_fields = ("residential_point",)


# The services name foreign keys by id; the form by the relation.
_FORM_FIELD = {
    "committee_id": "committee",
    "residential_point_id": "residential_point",
    "household_id": "household",
}


class ResidentAdminForm(forms.ModelForm[Resident]):
    """Validates through `services.check_resident_data`, the same rules as the API and imports."""

    citizen_id = forms.CharField(
        label="citizen ID (公民身份号码)",
        required=False,
        max_length=32,
        help_text="18 characters; leave blank for a person without one and give an alternative identifier.",
    )
    phone = forms.CharField(label="phone", required=False, max_length=20)

    class Meta:
        model = Resident
        fields = (
            "name",
            "sex",
            "birth_date",
            "alt_id_type",
            "alt_id_number",
            "health_record_number",
            "committee",
            "residential_point",
            "household",
            "relationship",
            "is_resident",
            "is_registered",
            "date_of_death",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resident_data: services.ResidentData = {}
        if self.instance.pk is None:
            return
        keep = "Leave blank to keep the current value."
        for name, masked in (
            ("citizen_id", self.instance.masked_citizen_id),
            ("phone", self.instance.masked_phone),
        ):
            field = self.fields[name]
            if masked:
                field.widget.attrs["placeholder"] = masked
                field.help_text = f"{keep} Current: {masked}."

    def _submitted(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        stored = self.instance if self.instance.pk is not None else None

        def pk(name: str) -> int | None:
            value = cleaned.get(name)
            return value.pk if value is not None else None

        return {
            "citizen_id": cleaned.get("citizen_id") or (stored.citizen_id if stored else None),
            "alt_id_type": cleaned.get("alt_id_type") or "",
            "alt_id_number": cleaned.get("alt_id_number") or "",
            "health_record_number": cleaned.get("health_record_number") or None,
            "name": cleaned.get("name") or "",
            "sex": cleaned.get("sex") or "",
            "birth_date": cleaned.get("birth_date"),
            "phone": cleaned.get("phone") or (stored.phone if stored else ""),
            "committee_id": pk("committee"),
            "residential_point_id": pk("residential_point"),
            "household_id": pk("household"),
            "relationship": cleaned.get("relationship") or "",
            "is_resident": bool(cleaned.get("is_resident")),
            "is_registered": bool(cleaned.get("is_registered")),
            "date_of_death": cleaned.get("date_of_death"),
        }

    def _add_service_error(self, field: str, message: str) -> None:
        name = _FORM_FIELD.get(field, field)
        if name not in self.fields:
            self.add_error(None, f"{field}: {message}")
        elif name not in self.errors:  # the field's own validation already said what is wrong
            self.add_error(name, message)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            data = services.check_resident_data(self._submitted(cleaned), today=timezone.localdate())
        except services.RegistryValidationError as exc:
            for field, message in exc.errors:
                self._add_service_error(field, message)
            return cleaned
        duplicate = services.find_duplicate(data, exclude_pk=self.instance.pk)
        if duplicate is not None:
            self._add_service_error(duplicate.field, duplicate.message)
            return cleaned
        self.resident_data = data
        return cleaned


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin[Resident]):
    form = ResidentAdminForm
    # The form declares its own citizen ID and phone fields: the stored values must never be rendered
    # into the page, nor copied onto the model behind the services' back.
    exclude = ("citizen_id", "phone")
    list_display = ("id", "name", "masked_citizen_id", "masked_phone", "sex", "birth_date", "committee")
    list_filter = ("sex", "is_resident", "is_registered")
    # A name prefix or a record number; never a citizen ID, which would put it in the URL.
    search_fields = ("^name", "=health_record_number")
    list_select_related = ("committee",)
    raw_id_fields = ("committee", "residential_point", "household")
    fieldsets = (
        (None, {"fields": ("name", "sex", "birth_date")}),
        ("Identifiers", {"fields": ("citizen_id", "alt_id_type", "alt_id_number", "health_record_number")}),
        ("Contact and address", {"fields": ("phone", "committee", "residential_point", "household")}),
        (
            "Household and status",
            {"fields": ("relationship", "is_resident", "is_registered", "date_of_death")},
        ),
    )

    @admin.display(description="citizen ID")
    def masked_citizen_id(self, obj: Resident) -> str:
        return obj.masked_identifier

    @admin.display(description="phone")
    def masked_phone(self, obj: Resident) -> str:
        return obj.masked_phone

    def has_delete_permission(self, request: HttpRequest, obj: Resident | None = None) -> bool:
        # There is no audited delete path for residents; records are closed with a date of death.
        return False

    def save_model(self, request: HttpRequest, obj: Resident, form: Any, change: bool) -> None:
        if change:
            services.do_update_resident(request.user, obj, form.resident_data, request)
        else:
            created = services.do_create_resident(request.user, form.resident_data, request)
            obj.pk = created.pk

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data and "cl" in response.context_data:
            changelist = response.context_data["cl"]
            record(
                request=request,
                action=Action.SEARCH,
                resource_type="resident",
                purpose="admin",
                detail={
                    "query": {"q": "<given>"} if changelist.query else {},
                    "count": changelist.result_count,
                    "resident_ids": [resident.pk for resident in changelist.result_list],
                },
            )
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200 and object_id.isdigit():
            record(
                request=request,
                action=Action.READ,
                resource_type="resident",
                resource_id=object_id,
                resident_id=int(object_id),
                purpose="admin",
            )
        return response


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin[Account]):
    list_display = ("user", "role", "staff", "institution", "masked_resident")
    list_filter = ("role",)
    search_fields = ("user__username",)
    list_select_related = ("user", "staff", "institution", "resident")
    raw_id_fields = ("user", "staff", "resident", "institution")

    @admin.display(description="resident")
    def masked_resident(self, obj: Account) -> str:
        return str(obj.resident) if obj.resident is not None else ""


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    """Tokens are issued with `jiayi token create`, which shows the secret once; here they can only be
    renamed, shortened or revoked."""

    list_display = ("prefix", "name", "user", "scopes", "status", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("scopes",)
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    fields = (
        "name",
        "prefix",
        "user",
        "scopes",
        "secret_hash",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    readonly_fields = ("prefix", "user", "scopes", "secret_hash", "created_at", "revoked_at", "last_used_at")
    actions = ("revoke",)

    @admin.display(description="status")
    def status(self, obj: ApiToken) -> str:
        return tokens.token_status(obj, timezone.now())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        actor = request.user if request.user.is_authenticated else None
        for token in queryset:
            tokens.revoke_token(token.prefix, actor=actor)
        self.message_user(request, f"Revoked {queryset.count()} token(s).", messages.SUCCESS)
