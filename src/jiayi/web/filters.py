"""Search forms of the list pages and the queryset filters they stand for.

The forms only narrow a queryset that `jiayi.access` has already scoped; they never widen it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from jiayi import access
from jiayi.registry.choices import KeyPopulation
from jiayi.registry.identity import normalise_citizen_id
from jiayi.registry.models import Household, Place, Resident
from jiayi.registry.queries import age_between, in_key_population
from jiayi.web.templatetags.jiayi_tags import lang_label

PAGE_SIZE = 50
_CITIZEN_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")

# Age bands of the district's reports: children under management, school age, working age, the elderly.
AGE_BANDS: dict[str, tuple[int, int | None]] = {
    "0-6": (0, 6),
    "7-17": (7, 17),
    "18-44": (18, 44),
    "45-64": (45, 64),
    "65+": (65, None),
}
AGE_BAND_CHOICES = [("", _("Any age")), *((band, band) for band in AGE_BANDS)]


def looks_like_citizen_id(value: str) -> bool:
    return bool(_CITIZEN_ID_SHAPE.match(normalise_citizen_id(value)))


class SearchInput(forms.TextInput):
    """The search box: echoes a name prefix back, never a citizen ID (E2)."""

    input_type = "search"

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, str) and looks_like_citizen_id(value):
            return None
        return super().format_value(value)


class CommitteeChoiceField(forms.ModelChoiceField[Place]):
    """Committees by name; the code would only crowd the select."""

    def label_from_instance(self, obj: Place) -> str:
        return obj.name


def key_population_choices() -> list[tuple[str, str]]:
    """Evaluated when the form renders, so the labels follow the active language."""
    return [("", str(_("Any key population"))), *((kp.value, lang_label(kp.label)) for kp in KeyPopulation)]


class ResidentSearchForm(forms.Form):
    """Name prefix or a full citizen ID, a committee, a key population and an age band."""

    q = forms.CharField(
        label=_("Name or citizen ID"),
        required=False,
        max_length=64,
        widget=SearchInput(
            attrs={"placeholder": _("Name (first characters) or full citizen ID"), "autocomplete": "off"}
        ),
    )
    committee = CommitteeChoiceField(
        label=_("Committee"), queryset=Place.objects.none(), required=False, empty_label=_("All committees")
    )
    key_population = forms.ChoiceField(
        label=_("Key population"),
        required=False,
        choices=key_population_choices,
    )
    age_band = forms.ChoiceField(label=_("Age band"), required=False, choices=AGE_BAND_CHOICES)

    def __init__(self, data: Any, *, user: Any) -> None:
        super().__init__(data)
        committee = self.fields["committee"]
        assert isinstance(committee, forms.ModelChoiceField)
        committee.queryset = access.committees_in_scope(user).order_by("code")

    def is_citizen_id_search(self) -> bool:
        return self.is_valid() and looks_like_citizen_id(self.cleaned_data["q"])

    def has_filters(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.get(name) for name in self.fields)

    def filter(self, residents: QuerySet[Resident], today: date) -> QuerySet[Resident]:
        if not self.is_valid():
            return residents.none()
        data = self.cleaned_data
        query = data["q"].strip()
        if query and looks_like_citizen_id(query):
            residents = residents.filter(citizen_id=normalise_citizen_id(query))
        elif query:
            residents = residents.filter(name__startswith=query)
        if data["committee"] is not None:
            residents = residents.filter(committee=data["committee"])
        if data["key_population"]:
            residents = residents.filter(in_key_population(data["key_population"], today))
        if data["age_band"]:
            low, high = AGE_BANDS[data["age_band"]]
            residents = residents.filter(age_between(today, low, high))
        return residents

    def url_params(self) -> dict[str, str]:
        """The filters that may appear in a URL. A citizen ID never does (E5): it would end up in
        browser history, proxy and server logs."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        params = {
            "q": "" if looks_like_citizen_id(data["q"]) else data["q"].strip(),
            "committee": str(data["committee"].pk) if data["committee"] is not None else "",
            "key_population": data["key_population"],
            "age_band": data["age_band"],
        }
        return {name: value for name, value in params.items() if value}

    def audit_detail(self) -> dict[str, str]:
        """What was searched for, for the audit log, with a citizen ID reduced to the fact of it."""
        params = self.url_params()
        if self.is_citizen_id_search():
            params["citizen_id"] = "exact"
        return params


class HouseholdSearchForm(forms.Form):
    """A household code prefix and a committee."""

    q = forms.CharField(
        label=_("Household code"),
        required=False,
        max_length=24,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Household code"), "autocomplete": "off"}
        ),
    )
    committee = CommitteeChoiceField(
        label=_("Committee"), queryset=Place.objects.none(), required=False, empty_label=_("All committees")
    )

    def __init__(self, data: Any, *, user: Any) -> None:
        super().__init__(data)
        committee = self.fields["committee"]
        assert isinstance(committee, forms.ModelChoiceField)
        committee.queryset = access.committees_in_scope(user).order_by("code")

    def has_filters(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.get(name) for name in self.fields)

    def filter(self, households: QuerySet[Household]) -> QuerySet[Household]:
        if not self.is_valid():
            return households.none()
        data = self.cleaned_data
        if data["q"].strip():
            households = households.filter(code__startswith=data["q"].strip())
        if data["committee"] is not None:
            households = households.filter(residential_point__committee=data["committee"])
        return households

    def url_params(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        params = {
            "q": data["q"].strip(),
            "committee": str(data["committee"].pk) if data["committee"] is not None else "",
        }
        return {name: value for name, value in params.items() if value}


def query_string(params: dict[str, str], **extra: object) -> str:
    merged = {**params, **{name: str(value) for name, value in extra.items() if value}}
    return urlencode(merged)
