"""The resident create and edit form.

The form only collects input; `jiayi.registry.services` validates it and writes it, and every problem
it reports comes back here as a field error. Citizen ID, phone and alternative identifier are never
echoed back into the page (E2): on an edit they show masked as a hint and stay unchanged when left
blank, and after a failed submission they have to be typed again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from jiayi import access
from jiayi.registry import services
from jiayi.registry.choices import AlternativeIdType, Relationship, Sex
from jiayi.registry.models import Household, Place, Resident, ResidentialPoint
from jiayi.registry.services import DuplicateResidentError, FieldError
from jiayi.web.templatetags.jiayi_tags import lang_label

# Fields whose value must never be sent back to the browser unmasked.
SECRET_FIELDS = ("citizen_id", "phone", "alt_id_number")
# The service names foreign keys by id; the form by the relation.
_SERVICE_TO_FORM_FIELD = {
    "committee_id": "committee",
    "residential_point_id": "residential_point",
    "household_id": "household_code",
}


def _choices(choices: Iterable[tuple[str, str]], *, blank: str | None = None) -> list[tuple[str, str]]:
    translated = [(value, lang_label(label)) for value, label in choices]
    return [("", blank), *translated] if blank is not None else translated


class UnechoedInput(forms.TextInput):
    """A text input that never renders a value: what was typed is not sent back to the browser."""

    def format_value(self, value: Any) -> str | None:
        return None


class CommitteeField(forms.ModelChoiceField[Place]):
    def label_from_instance(self, obj: Place) -> str:
        return obj.name


class ResidentialPointField(forms.ModelChoiceField[ResidentialPoint]):
    def label_from_instance(self, obj: ResidentialPoint) -> str:
        return obj.address


class ResidentForm(forms.Form):
    """A resident's registry fields, for registering a new resident or correcting one."""

    name = forms.CharField(label=_("Name"), max_length=64)
    sex = forms.ChoiceField(label=_("Sex"), choices=lambda: _choices(Sex.choices, blank="–"))
    birth_date = forms.DateField(
        label=_("Date of birth"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    citizen_id = forms.CharField(
        label=_("Citizen ID"),
        required=False,
        max_length=18,
        widget=UnechoedInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    alt_id_type = forms.ChoiceField(
        label=_("Alternative identifier type"),
        required=False,
        choices=lambda: _choices(AlternativeIdType.choices, blank="–"),
    )
    alt_id_number = forms.CharField(
        label=_("Alternative identifier number"),
        required=False,
        max_length=32,
        widget=UnechoedInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    health_record_number = forms.CharField(label=_("Health record number"), required=False, max_length=17)
    phone = forms.CharField(
        label=_("Mobile phone"),
        required=False,
        max_length=20,
        widget=UnechoedInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
    )
    committee = CommitteeField(label=_("Committee"), queryset=Place.objects.none(), empty_label="–")
    residential_point = ResidentialPointField(
        label=_("Address"), queryset=ResidentialPoint.objects.none(), required=False, empty_label="–"
    )
    household_code = forms.CharField(
        label=_("Household code"),
        required=False,
        max_length=24,
        help_text=_("An existing household in your scope; leave blank for none."),
    )
    relationship = forms.ChoiceField(
        label=_("Relationship to the head of household"),
        required=False,
        choices=lambda: _choices(Relationship.choices, blank="–"),
    )
    is_resident = forms.BooleanField(label=_("Lives here (6 months or more)"), required=False, initial=True)
    is_registered = forms.BooleanField(label=_("Household registration here"), required=False)
    date_of_death = forms.DateField(
        label=_("Date of death"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, data: Any = None, *, user: Any, instance: Resident | None = None) -> None:
        self.user = user
        self.instance = instance
        initial = self._initial_from(instance) if instance is not None else {"is_resident": True}
        super().__init__(data, initial=initial)
        assignable = access.committees_assignable_by(user).values("pk")
        committees = Place.objects.filter(pk__in=assignable)
        if instance is not None and instance.committee_id is not None:
            # Correcting a resident must not force a move out of a committee the user cannot assign.
            committees = Place.objects.filter(Q(pk__in=assignable) | Q(pk=instance.committee_id))
        committee_field = self.fields["committee"]
        point_field = self.fields["residential_point"]
        assert isinstance(committee_field, CommitteeField)
        assert isinstance(point_field, ResidentialPointField)
        committee_field.queryset = committees.order_by("code")
        point_field.queryset = ResidentialPoint.objects.filter(committee__in=committees).order_by("address")
        if instance is None:
            del self.fields["date_of_death"]
        else:
            self._describe_kept_secrets(instance)

    @staticmethod
    def _initial_from(resident: Resident) -> dict[str, Any]:
        return {
            "name": resident.name,
            "sex": resident.sex,
            "birth_date": resident.birth_date,
            "alt_id_type": resident.alt_id_type,
            "health_record_number": resident.health_record_number or "",
            "committee": resident.committee_id,
            "residential_point": resident.residential_point_id,
            "household_code": resident.household.code if resident.household is not None else "",
            "relationship": resident.relationship,
            "is_resident": resident.is_resident,
            "is_registered": resident.is_registered,
            "date_of_death": resident.date_of_death,
        }

    def _describe_kept_secrets(self, resident: Resident) -> None:
        kept = {
            "citizen_id": resident.masked_citizen_id,
            "phone": resident.masked_phone,
            "alt_id_number": resident.masked_identifier if resident.alt_id_number else "",
        }
        for name, masked in kept.items():
            field = self.fields[name]
            if masked:
                field.widget.attrs["placeholder"] = masked
                field.help_text = _("Leave blank to keep the current value.")

    def clean_household_code(self) -> Household | None:
        code = (self.cleaned_data.get("household_code") or "").strip()
        if not code:
            return None
        household = access.households_visible_to(self.user).filter(code=code).first()
        if household is None:
            raise forms.ValidationError(_("No household with this code in your scope."))
        return household

    def resident_data(self) -> dict[str, Any]:
        """The cleaned input in the shape `registry.services` takes. On an edit, blank secret fields
        are left out so the stored values stay. Fields that failed the form's own cleaning are None."""
        data = self.cleaned_data
        household: Household | None = data.get("household_code")
        values: dict[str, Any] = {
            "name": data.get("name"),
            "sex": data.get("sex"),
            "birth_date": data.get("birth_date"),
            "alt_id_type": data.get("alt_id_type", ""),
            "health_record_number": data.get("health_record_number") or None,
            "committee_id": data["committee"].pk if data.get("committee") is not None else None,
            "residential_point_id": data["residential_point"].pk
            if data.get("residential_point") is not None
            else None,
            "household_id": household.pk if household is not None else None,
            "relationship": data.get("relationship", ""),
            "is_resident": data.get("is_resident", True),
            "is_registered": data.get("is_registered", False),
        }
        if "date_of_death" in self.fields:
            values["date_of_death"] = data.get("date_of_death")
        for name in SECRET_FIELDS:
            typed = (data.get(name) or "").strip()
            if typed or self.instance is None:
                values[name] = typed or (None if name == "citizen_id" else "")
        return values

    def add_service_errors(self, errors: Iterable[FieldError]) -> None:
        """Show each problem the registry reports on its field, once: a field the form itself already
        refused keeps the form's message."""
        for field, message in errors:
            name = _SERVICE_TO_FORM_FIELD.get(field, field)
            if name in self.fields and name in self.errors:
                continue
            self.add_error(name if name in self.fields else None, message)

    def check_with_registry(self, *, today: date, committees: QuerySet[Place]) -> None:
        """After the form's own checks failed, ask the registry about the rest too, so every problem
        shows at once instead of one round trip per field."""
        data = self.resident_data()
        limit: QuerySet[Place] | None = committees
        if self.instance is not None:
            data = {**services.resident_data(self.instance), **data}
            # As in do_update_resident: the committee limit applies to moves only.
            if data.get("committee_id") == self.instance.committee_id:
                limit = None
        try:
            services.check_resident_data(data, today=today, committees=limit)
        except services.RegistryValidationError as exc:
            self.add_service_errors(exc.errors)

    def add_duplicate_error(self, error: DuplicateResidentError) -> None:
        """Say which identifier clashes without naming the other resident, who may be out of scope."""
        messages = {
            "citizen_id": _("Another resident already has this citizen ID."),
            "alt_id_number": _("Another resident already has this alternative identifier."),
            "health_record_number": _("Another resident already has this health record number."),
        }
        self.add_error(error.field if error.field in self.fields else None, messages.get(error.field, ""))
