"""The quick structure check of FHIR resources decides exactly as the fhir.resources R4B models do.

`fhir_in.check_structure` validates the first resource of each shape with the model and later ones of
the same shape by their primitive values only; these tests prime it with a valid resource of each
accepted type, then try every primitive value of that resource replaced by awkward values of the same
JSON type (so the shape, and therefore the quick path, stays the same) and compare the decision and
the error with the model's own.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from jiayi.records import fhir_in
from jiayi.records import fhir_systems as systems

WHEN = "2025-06-01T09:30:00+08:00"
SUBJECT = {"reference": f"Patient?identifier={systems.CITIZEN_ID_SYSTEM}|110101199003077777"}

RESOURCES: list[dict[str, Any]] = [
    {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:test:obs", "value": "o-1"}],
        "status": "final",
        "category": [{"coding": [{"system": systems.OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": systems.LOINC, "code": "8480-6", "display": "SBP"}]},
        "subject": SUBJECT,
        "effectiveDateTime": WHEN,
        "valueQuantity": {"value": 128.5, "unit": "mmHg", "system": "http://unitsofmeasure.org"},
        "component": [{"code": {"text": "x"}, "valueQuantity": {"value": 3}}],
    },
    {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": systems.CITIZEN_ID_SYSTEM, "value": "110101199003077777"}],
        "name": [{"family": "王", "given": ["芳"]}],
        "gender": "female",
        "birthDate": "1990-03-07",
        "telecom": [{"system": "phone", "value": "13800000000"}],
        "active": True,
    },
    {
        "resourceType": "Encounter",
        "identifier": [{"system": "urn:test:enc", "value": "e-1"}],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": SUBJECT,
        "period": {"start": WHEN, "end": "2025-06-01T10:00:00+08:00"},
    },
    {
        "resourceType": "Condition",
        "identifier": [{"system": "urn:test:cond", "value": "c-1"}],
        "code": {"coding": [{"system": systems.ICD10, "code": "I10"}]},
        "subject": SUBJECT,
        "onsetDateTime": "2019",
        "recordedDate": "2020-01-02",
    },
    {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": "urn:test:med", "value": "m-1"}],
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "氨氯地平"},
        "subject": SUBJECT,
        "authoredOn": WHEN,
        "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "code": "d"}},
    },
]

AWKWARD: dict[type, list[Any]] = {
    str: [
        "",
        " ",
        " leading",
        "two  spaces",
        "tab\there",
        "line\nbreak",
        "2025-13-01",
        "2025-02-30",
        "2025-06-01T25:00:00+08:00",
        "2025-06-01T09:30:00",
        "2025-06-01T09:30:00Z",
        "2025-06",
        "2025",
        "19900307",
        "1e5",
        "-0",
        "12.50",
        "abc",
        "a b",
        "urn:x y",
        "Observation",
        "Patient",
        "x" * 70,
        "王芳",
    ],
    int: [0, -1, 10**20, 7],
    float: [0.0, -2.5, 1e300, float("inf"), float("nan")],
    bool: [True, False],
}


def _primitive_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _primitive_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _primitive_paths(item, (*path, i))
    else:
        yield path


def _replaced(resource: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(resource)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def _decision(check: Any) -> tuple[bool, list[tuple[Any, ...]]]:
    try:
        check()
    except ValidationError as exc:
        return False, [(e["loc"], e["msg"], e["type"]) for e in exc.errors()]
    return True, []


def _variants() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for resource in RESOURCES:
        for path in _primitive_paths(resource):
            if path == ("resourceType",):
                continue
            leaf: Any = resource
            for step in path:
                leaf = leaf[step]
            for awkward in AWKWARD[type(leaf)]:
                variant = _replaced(resource, path, awkward)
                yield f"{resource['resourceType']}.{'.'.join(map(str, path))}={awkward!r}", resource, variant


@pytest.mark.parametrize("resource", RESOURCES, ids=[r["resourceType"] for r in RESOURCES])
def test_the_sample_resources_are_valid(resource: dict[str, Any]) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    fhir_in.check_structure(resource["resourceType"], resource)
    # Every element of the samples can be typed, so their shapes take the quick path afterwards.
    key = next(k for k in fhir_in._passed_shapes if k[0] == resource["resourceType"])
    assert fhir_in._passed_shapes[key] is not None


def test_the_quick_check_decides_as_the_model_for_every_awkward_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared = accepted = 0
    for name, valid, variant in _variants():
        monkeypatch.setattr(fhir_in, "_passed_shapes", {})
        kind = valid["resourceType"]
        fhir_in.check_structure(kind, valid)
        assert fhir_in._passed_shapes, "the valid resource's shape is remembered"
        quick = _decision(lambda: fhir_in.check_structure(kind, variant))  # noqa: B023 - called at once
        model = _decision(lambda: get_fhir_model_class(kind).model_validate(variant))  # noqa: B023
        assert quick == model, name
        compared += 1
        accepted += quick[0]
    # Both kinds of decision were exercised: the quick path accepted some and the model refused others.
    assert compared > 500
    assert 0 < accepted < compared


def test_a_bad_value_after_a_good_one_of_the_same_shape_is_named_as_before() -> None:
    good = RESOURCES[0]
    bad = _replaced(good, ("effectiveDateTime",), "2025-02-30T09:30:00+08:00")
    now = timezone.now()
    fhir_in.parse_entry(0, {"resource": good}, now)
    with pytest.raises(fhir_in.ParsedEntryError) as raised:
        fhir_in.parse_entry(1, {"resource": bad}, now)
    assert raised.value.error.field == "Observation.effectiveDateTime"
    assert raised.value.parsed.index == 1
    assert raised.value.parsed.source_id == "urn:test:obs|o-1"


def test_an_unknown_element_is_refused_even_after_its_siblings_passed() -> None:
    good = RESOURCES[0]
    fhir_in.check_structure("Observation", good)
    with pytest.raises(ValidationError):
        fhir_in.check_structure("Observation", {**good, "valueQuantty": {"value": 1}})


@pytest.mark.parametrize(
    "text",
    [
        '{"resourceType": "Bundle", "type": "batch", "entry": [',
        '{"a": NaN, "b": Infinity}',
        '{"big": 123456789012345678901234567890}',
        '{"low": -9223372036854775809, "x": 1e400}',
        '\ufeff{"bom": 1}',
        '{"a": 1, "a": 2}',
        '{"s": "\\ud800"}',
        "[1, 2]",
        "null",
        "",
    ],
)
def test_bundles_are_read_as_the_standard_parser_reads_them(text: str) -> None:
    for value in (text, text.encode("utf-8", "surrogatepass")):
        try:
            expected: Any = json.loads(value)
        except json.JSONDecodeError as exc:
            expected = f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        if not isinstance(expected, (dict, str)):
            expected = "a FHIR Bundle must be a JSON object"
        try:
            got: Any = fhir_in.load_json(value)
        except ValueError as exc:
            got = str(exc)
        if isinstance(expected, dict):
            assert json.dumps(got) == json.dumps(expected)
        else:
            assert got == expected


def test_a_body_that_is_not_utf8_is_named() -> None:
    with pytest.raises(ValueError, match="malformed JSON"):
        fhir_in.load_json(b'{"a": "\xff"}')
