"""The FHIR commands: `import-fhir` (files, folders, NDJSON; summary; exit status) and `export-fhir`
(one account, every account, importable transaction bundles that reproduce the account)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from fhir.resources.R4B.bundle import Bundle

from jiayi.audit.models import AuditEntry
from jiayi.records.models import Condition, Encounter, Medication, Observation
from jiayi.records.services import import_bundle
from jiayi.registry.models import Institution, Resident

from .helpers import bundle, condition, encounter, medication_request, medication_statement, observation

pytestmark = pytest.mark.django_db


# An export of personal data states why.
REASON = ("--reason", "quality_review", "--reason-detail", "record transfer check")


def _run(*args: str) -> str:
    out = StringIO()
    stated = REASON if args[0] == "export-fhir" else ()
    call_command(*args, *stated, "--no-progress", stdout=out)
    return out.getvalue()


def _centre() -> str:
    """The producer the tests' feeds are attributed to (their entries name none)."""
    return str(Institution.objects.order_by("id").values_list("code", flat=True).first())


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_it_imports_a_folder_of_bundles_and_ndjson_and_summarises(tmp_path, resident_in_scope):
    folder = tmp_path / "feed"
    (folder / "day2").mkdir(parents=True)
    _write(folder / "a.json", bundle([encounter("cli-e1", resident_in_scope)]))
    _write(folder / "day2" / "b.json", bundle([observation("cli-o1", resident_in_scope)], "transaction"))
    lines = [observation(f"cli-n{i}", resident_in_scope, value=120 + i) for i in range(3)]
    (folder / "c.ndjson").write_text("\n".join(json.dumps(r) for r in lines) + "\n\n", encoding="utf-8")
    summary = json.loads(_run("import-fhir", str(folder), "--institution", _centre(), "--json"))
    assert summary == {"files": 3, "counts": {"created": 5, "error": 0}, "errors": []}
    assert Observation.objects.filter(source_id__startswith="urn:test:obs|cli-").count() == 4
    assert Observation.objects.get(source_id="urn:test:obs|cli-n2").source_system == "file:c.ndjson"
    again = json.loads(_run("import-fhir", str(folder), "--institution", _centre(), "--json"))
    assert again["counts"] == {"unchanged": 5, "error": 0}


def test_it_exits_non_zero_naming_the_failed_entry_and_ndjson_line(tmp_path, resident_in_scope):
    good = observation("cli-ok", resident_in_scope)
    bad = observation("cli-bad", resident_in_scope, value=400)
    path = tmp_path / "readings.ndjson"
    path.write_text(f"{json.dumps(good)}\n\n{json.dumps(bad)}\n{{not json\n", encoding="utf-8")
    out = StringIO()
    with pytest.raises(CommandError, match="2 entries failed"):
        call_command("import-fhir", str(path), "--institution", _centre(), "--no-progress", stdout=out)
    text = out.getvalue()
    assert f"{path}:3: Observation urn:test:obs|cli-bad [Observation.valueQuantity.value]" in text
    assert "outside the plausible range 50–300" in text
    assert f"{path}:4: malformed JSON" in text
    assert Observation.objects.filter(source_id="urn:test:obs|cli-ok").exists()
    assert not Observation.objects.filter(source_id="urn:test:obs|cli-bad").exists()


def test_it_rolls_back_a_failed_transaction_file_and_names_the_entry(tmp_path, resident_in_scope):
    resources = [observation("cli-t1", resident_in_scope), observation("cli-t2", resident_in_scope, value=1)]
    path = _write(tmp_path / "t.json", bundle(resources, "transaction"))
    out = StringIO()
    with pytest.raises(CommandError, match="1 entries failed"):
        call_command("import-fhir", str(path), "--institution", _centre(), "--no-progress", stdout=out)
    assert f"{path} entry 1: Observation urn:test:obs|cli-t2" in out.getvalue()
    assert "1 not applied" in out.getvalue()
    assert not Observation.objects.filter(source_id__startswith="urn:test:obs|cli-t").exists()


def test_it_refuses_a_path_that_does_not_exist(tmp_path):
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("import-fhir", str(tmp_path / "missing.json"), "--no-progress")


def test_it_exports_one_account_as_a_valid_everything_bundle(tmp_path, personas, resident_in_scope):
    import_bundle(
        bundle([encounter("x-e", resident_in_scope), observation("x-o", resident_in_scope)]),
        actor=personas.doctor,
        source_system="export-cli",
    )
    text = _run("export-fhir", "--resident", str(resident_in_scope.pk))
    exported = json.loads(text)
    Bundle.model_validate(exported)
    assert exported["type"] == "searchset"
    assert resident_in_scope.citizen_id not in text
    assert AuditEntry.objects.filter(
        action="export", resource_type="health_account", resident_id=resident_in_scope.pk
    ).exists()
    with pytest.raises(CommandError, match="no resident with id"):
        call_command("export-fhir", "--resident", "999999999", *REASON, "--no-progress")


def test_it_exports_every_account_into_a_folder(tmp_path):
    out = tmp_path / "all"
    text = _run("export-fhir", "--all", "--out", str(out))
    count = Resident.objects.count()
    assert f"Exported {count:,} residents' accounts" in text
    files = sorted(out.glob("*.json"))
    assert len(files) == count
    Bundle.model_validate(json.loads(files[0].read_text(encoding="utf-8")))
    with pytest.raises(CommandError, match="give --out DIR"):
        call_command("export-fhir", "--all", *REASON, "--no-progress")


def _account(resident: Resident) -> dict[str, list[tuple[object, ...]]]:
    """The resident's account without database ids: what a round trip must reproduce."""
    return {
        "encounters": sorted(
            Encounter.objects.filter(resident=resident).values_list(
                "source_system", "source_id", "institution__code", "type", "department", "start", "end"
            )
        ),
        "conditions": sorted(
            Condition.objects.filter(resident=resident).values_list(
                "source_system", "source_id", "code", "clinical_status", "onset_date", "encounter__source_id"
            )
        ),
        "observations": sorted(
            Observation.objects.filter(resident=resident).values_list(
                "source_system",
                "source_id",
                "institution__code",
                "code",
                "value",
                "unit",
                "effective_at",
                "method",
                "encounter__source_id",
            )
        ),
        "medications": sorted(
            Medication.objects.filter(resident=resident).values_list(
                "source_system",
                "source_id",
                "kind",
                "status",
                "medication_text",
                "dosage_text",
                "authored_at",
                "effective_start",
                "days_supply",
                "encounter__source_id",
            ),
            key=repr,
        ),
    }


def test_it_round_trips_an_account_through_transaction_bundles(tmp_path, personas, resident_in_scope):
    resident = resident_in_scope
    linked = {"encounter": {"reference": "urn:uuid:rt-enc"}}
    first = [
        encounter("rt-e", resident),
        condition("rt-c", resident, **linked),
        observation("rt-o", resident, **linked),
        observation("rt-g", resident, code="1558-6", value=110, unit="mg/dL"),
        medication_request("rt-r", resident, **linked),
    ]
    urls = ["urn:uuid:rt-enc", "urn:c", "urn:o", "urn:g", "urn:r"]
    assert import_bundle(
        bundle(first, "transaction", full_urls=urls), actor=personas.doctor, source_system="his-a"
    ).ok
    assert import_bundle(
        bundle([medication_statement("rt-s", resident)]), actor=personas.doctor, source_system="post-b"
    ).ok
    before = _account(resident)
    out = tmp_path / "moved"
    _run("export-fhir", "--resident", str(resident.pk), "--transaction", "--out", str(out))
    files = sorted(out.glob("*.json"))
    assert [f.name for f in files] == [f"{resident.pk}-1.json", f"{resident.pk}-2.json"]
    for model in (Condition, Observation, Medication, Encounter):
        model.objects.filter(resident=resident).delete()
    assert _account(resident) == {key: [] for key in before}
    summary = json.loads(_run("import-fhir", str(out), "--json"))
    assert summary["counts"]["error"] == 0
    assert summary["counts"]["created"] == 6
    assert _account(resident) == before
    again = json.loads(_run("import-fhir", str(out), "--json"))
    assert "created" not in again["counts"]
    assert "updated" not in again["counts"]
