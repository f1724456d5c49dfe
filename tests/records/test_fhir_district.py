"""The whole district through FHIR and back: `jiayi synth --fhir-out DIR`, then `jiayi import-fhir DIR`
into an empty, freshly migrated second database reproduces every table's content and the indicators.

The two databases live outside the test database (two SQLite files, or two scratch PostgreSQL
databases when the suite runs on PostgreSQL), each driven by a child process with its own settings, so
that both start as a real deployment would: migrated and empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest
from django.db import connection
from fhir.resources.R4B import get_fhir_model_class

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-11-20"
RESIDENTS = 1_000


# What a child process runs ------------------------------------------------------------------------------


def _natural_keys() -> dict[str, dict[int, Any]]:
    """Every row's business key by id, per model: what a foreign key is compared by."""
    from jiayi.registry.models import (
        Household,
        Institution,
        MedicalConsortium,
        Place,
        Resident,
        ResidentialPoint,
        Staff,
        Team,
    )
    from jiayi.signing.models import Consent, ServicePackage, Signing

    keys: dict[str, dict[int, Any]] = {}
    for model in (Place, ResidentialPoint, Institution, Staff, Household):
        keys[model._meta.label] = dict(model.objects.values_list("pk", "code"))
    keys[MedicalConsortium._meta.label] = dict(MedicalConsortium.objects.values_list("pk", "name"))
    residents: dict[int, Any] = {}
    for pk, citizen, alt_type, alt, record in Resident.objects.values_list(
        "pk", "citizen_id", "alt_id_type", "alt_id_number", "health_record_number"
    ):
        residents[pk] = citizen or (f"{alt_type}:{alt}" if alt else f"record:{record}")
    keys[Resident._meta.label] = residents
    institutions = keys[Institution._meta.label]
    places = keys[Place._meta.label]
    keys[Team._meta.label] = {
        pk: f"{institutions[centre]}/{name}"
        for pk, centre, name in Team.objects.values_list("pk", "centre", "name")
    }
    keys[ServicePackage._meta.label] = {
        pk: f"{places[district]}/{year}/{code}"
        for pk, district, year, code in ServicePackage.objects.values_list("pk", "district", "year", "code")
    }
    keys[Consent._meta.label] = {
        pk: f"{residents[resident]}/{kind}/{at.isoformat()}"
        for pk, resident, kind, at in Consent.objects.values_list("pk", "resident", "kind", "accepted_at")
    }
    signings: dict[int, Any] = {}
    seen: dict[tuple[int, date], int] = {}
    for pk, resident, starts in Signing.objects.order_by("id").values_list("pk", "resident", "starts_on"):
        seen[(resident, starts)] = seen.get((resident, starts), 0) + 1
        signings[pk] = f"{residents[resident]}/{starts.isoformat()}#{seen[(resident, starts)]}"
    keys[Signing._meta.label] = signings
    return keys


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# Bookkeeping that says when a row was written here, not what it holds.
SKIPPED = {"id", "created_at", "updated_at", "received_at"}


def canonical() -> dict[str, Any]:
    """Each table's rows with foreign keys replaced by business keys, sorted: equal content compares
    equal whatever ids the database assigned."""
    from django.apps import apps

    from jiayi.records import models as records
    from jiayi.registry import models as registry
    from jiayi.signing import models as signing

    keys = _natural_keys()
    tables: list[Any] = [
        registry.Place,
        registry.ResidentialPoint,
        registry.Institution,
        registry.MedicalConsortium,
        registry.Staff,
        registry.Team,
        registry.TeamMembership,
        registry.Household,
        registry.Resident,
        records.Encounter,
        records.Condition,
        records.Observation,
        records.Medication,
        records.ElderlyExam,
        signing.ServicePackage,
        signing.Consent,
        signing.Signing,
        signing.SigningEvent,
    ]
    out: dict[str, Any] = {}
    for model in tables:
        rows = []
        for row in model.objects.all().iterator(chunk_size=5_000):
            item: dict[str, Any] = {}
            for f in model._meta.concrete_fields:
                if f.name in SKIPPED:
                    continue
                value = getattr(row, f.attname)
                if f.is_relation and value is not None:
                    target = f.related_model._meta.label
                    value = keys[target][value] if target in keys else f"{target}:{value}"
                item[f.name] = _plain(value)
            rows.append(item)
        rows.sort(key=lambda r: json.dumps(r, sort_keys=True, ensure_ascii=False, default=str))
        out[model._meta.label] = rows
    links: dict[str, list[list[Any]]] = {}
    for model, name in ((registry.MedicalConsortium, "members"), (registry.Team, "committees")):
        through = getattr(model, name).through
        source = model._meta.label
        target = apps.get_model(getattr(model, name).field.related_model._meta.label)._meta.label
        columns = [f.attname for f in through._meta.concrete_fields if f.is_relation]
        links[f"{source}.{name}"] = sorted(
            [keys[source][a], keys[target][b]] for a, b in through.objects.values_list(*columns)
        )
    out["links"] = links
    return out


def _indicators() -> Any:
    from io import StringIO

    from django.core.management import call_command

    text = StringIO()
    call_command("indicators", "--as-of", AS_OF, "--level", "centre", "--format", "json", stdout=text)
    # Centres are named by code; `unit_id` is the receiving database's own id.
    return [{k: v for k, v in row.items() if k != "unit_id"} for row in json.loads(text.getvalue())]


def child(step: str, folder: str) -> None:
    """One side of the round trip, in a process of its own (settings from the environment)."""
    from io import StringIO

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    result: dict[str, Any] = {}
    if step == "source":
        call_command(
            "synth",
            "--residents",
            str(RESIDENTS),
            "--seed",
            "11",
            "--as-of",
            AS_OF,
            "--no-services",
            "--no-progress",
            "--fhir-out",
            folder,
            stdout=StringIO(),
        )
    else:
        for run in ("first", "again"):
            text = StringIO()
            call_command("import-fhir", folder, "--no-progress", "--json", stdout=text)
            result[run] = json.loads(text.getvalue())
    result["content"] = canonical()
    result["indicators"] = _indicators()
    Path(folder).parent.joinpath(f"{step}.result.json").write_bytes(orjson.dumps(result, default=str))


# The test -----------------------------------------------------------------------------------------------


def _databases(tmp: Path) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """Environments for the two child processes: two SQLite files, or two scratch PostgreSQL databases
    next to the test database."""
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "JIAYI_SQLITE_PATH"}}
    base["JIAYI_TASKS_BACKEND"] = "db"
    if connection.vendor != "postgresql":
        yield (
            {**base, "JIAYI_SQLITE_PATH": str(tmp / "source.sqlite3")},
            {**base, "JIAYI_SQLITE_PATH": str(tmp / "target.sqlite3")},
        )
        return
    import psycopg

    url = os.environ["DATABASE_URL"]
    parts = urlsplit(url)
    prefix = connection.settings_dict["NAME"]
    names = [f"{prefix}_trip_source", f"{prefix}_trip_target"]
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as pg:
        for name in names:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}"')
            pg.execute(f'CREATE DATABASE "{name}"')
    try:
        yield tuple(  # type: ignore[misc]
            {**base, "DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}"))} for name in names
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as pg:
            for name in names:
                pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(step: str, folder: Path, env: dict[str, str]) -> dict[str, Any]:
    code = (
        "import django; django.setup(); "
        f"from tests.records.test_fhir_district import child; child({step!r}, {str(folder)!r})"
    )
    env = {**env, "DJANGO_SETTINGS_MODULE": "jiayi.settings"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1_800
    )
    assert done.returncode == 0, done.stderr[-4_000:]
    return orjson.loads((folder.parent / f"{step}.result.json").read_bytes())  # type: ignore[no-any-return]


@pytest.mark.django_db
def test_the_district_survives_a_round_trip_through_fhir(tmp_path: Path) -> None:
    folder = tmp_path / "fhir"
    for source_env, target_env in _databases(tmp_path):
        source = _run("source", folder, source_env)
        target = _run("target", folder, target_env)

        # Every table holds the same rows, compared by business keys.
        assert set(target["content"]) == set(source["content"])
        for table, rows in source["content"].items():
            if table != "links":
                assert len(target["content"][table]) == len(rows), table
            assert target["content"][table] == rows, table
        assert len(source["content"]["registry.Resident"]) == RESIDENTS
        assert source["content"]["signing.Signing"]
        assert source["content"]["records.ElderlyExam"]
        # … and therefore the same indicators for every centre.
        assert target["indicators"] == source["indicators"]

        # The first import created everything without an error; the second changed nothing.
        first, again = target["first"]["counts"], target["again"]["counts"]
        assert first["error"] == 0
        assert first.get("created", 0) > RESIDENTS
        assert again == {"unchanged": sum(first.values()) - first["error"], "error": 0}

    # Every exported resource is valid FHIR R4 (the R4B models), residents' accounts included.
    counts: dict[str, int] = {}
    for path in sorted(folder.glob("*.json")):
        bundle = orjson.loads(path.read_bytes())
        if bundle.get("resourceType") != "Bundle":
            continue
        get_fhir_model_class("Bundle").model_validate(bundle)
        for entry in bundle["entry"]:
            resource = entry["resource"]
            counts[resource["resourceType"]] = counts.get(resource["resourceType"], 0) + 1
    assert counts["Patient"] == RESIDENTS
    for kind in ("Location", "Organization", "Practitioner", "PractitionerRole", "CareTeam", "Group"):
        assert counts[kind] > 0, kind
    for kind in (
        "Encounter",
        "Observation",
        "Condition",
        "QuestionnaireResponse",
        "Consent",
        "EpisodeOfCare",
    ):
        assert counts[kind] > 0, kind
