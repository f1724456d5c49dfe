"""State changes of surveillance: ingest counts, run detection, open alerts and move them on.

`check_*` functions validate and return problems; `do_*` functions are atomic and audited. The API, the
CSV importer, the pages and the background task all go through these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

import numpy as np
import pandas as pd
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.registry.choices import Role
from jiayi.registry.identity import normalise_citizen_id, parse_citizen_id
from jiayi.registry.models import Place, Resident
from jiayi.surveillance import rules
from jiayi.surveillance.detection import SeriesJob, run_batch
from jiayi.surveillance.models import (
    Alert,
    AlertEvent,
    AlertRule,
    AlertState,
    CaseReport,
    DailyCount,
    DetectionRun,
    DetectorSetting,
    LabOutcome,
    LabResult,
    Notification,
    ReportingUnit,
    RuleKind,
    Signal,
    Syndrome,
)

# Days before `as_of` whose alarms a detection run (re)computes: late reports within a week count.
LOOKBACK_DAYS = 7
# Signals this far back feed the rules (the longest rule window anyone should configure).
RULE_WINDOW_DAYS = 14
MAX_ROWS = 10_000


def now() -> datetime:
    return timezone.now()


# Ingest --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based position in the submitted rows (a CSV's data line number)
    field: str
    message: str


@dataclass(frozen=True)
class CountRow:
    unit: ReportingUnit
    day: date
    code: str
    count: int


@dataclass
class IngestResult:
    created: int = 0
    revised: int = 0
    unchanged: int = 0
    redetected: list[tuple[str, str]] = field(default_factory=list)


def check_count_rows(
    raw_rows: Sequence[Mapping[str, Any]], today: date
) -> tuple[list[CountRow], list[RowError]]:
    """Parse rows of {unit, date, code, count}; every problem is reported with its row and field."""
    errors: list[RowError] = []
    if len(raw_rows) > MAX_ROWS:
        return [], [RowError(0, "rows", f"at most {MAX_ROWS} rows per request")]
    codes = {str(row.get("unit", "")).strip() for row in raw_rows}
    units = {unit.code: unit for unit in ReportingUnit.objects.filter(code__in=codes)}
    parsed: list[CountRow] = []
    seen: dict[tuple[str, date, str], int] = {}
    for number, raw in enumerate(raw_rows, start=1):
        row_errors: list[RowError] = []
        unit = units.get(str(raw.get("unit", "")).strip())
        if unit is None:
            row_errors.append(RowError(number, "unit", "no reporting unit with this code"))
        day: date | None = None
        try:
            day = date.fromisoformat(str(raw.get("date", "")).strip())
        except ValueError:
            row_errors.append(RowError(number, "date", "expected a date as YYYY-MM-DD"))
        if day is not None and day > today:
            row_errors.append(RowError(number, "date", "is in the future"))
        code = str(raw.get("code", "")).strip()
        if code not in Syndrome.values:
            row_errors.append(RowError(number, "code", f"unknown code; one of {', '.join(Syndrome.values)}"))
        count = raw.get("count")
        if isinstance(count, str) and count.strip().isdigit():
            count = int(count.strip())
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            row_errors.append(RowError(number, "count", "expected a whole number of at least 0"))
        if not row_errors and unit is not None and day is not None and isinstance(count, int):
            key = (unit.code, day, code)
            if key in seen:
                row_errors.append(RowError(number, "date", f"repeats row {seen[key]} for this unit and code"))
            else:
                seen[key] = number
                parsed.append(CountRow(unit, day, code, count))
        errors.extend(row_errors)
    return parsed, errors


def latest_counts(pairs: Iterable[tuple[int, str]] | None = None, until: date | None = None) -> pd.DataFrame:
    """The latest revision of every count, as columns unit_id, code, date, count."""
    queryset = DailyCount.objects.all()
    if until is not None:
        queryset = queryset.filter(date__lte=until)
    if pairs is not None:
        wanted = list(pairs)
        if not wanted:
            return pd.DataFrame(columns=["unit_id", "code", "date", "count"])
        queryset = queryset.filter(unit_id__in={u for u, _ in wanted}, code__in={c for _, c in wanted})
    rows = list(queryset.order_by().values_list("unit_id", "code", "date", "revision", "count"))
    frame = pd.DataFrame(rows, columns=["unit_id", "code", "date", "revision", "count"])
    if pairs is not None:
        keep = set(wanted)
        mask = np.array([(u, c) in keep for u, c in zip(frame.unit_id, frame.code, strict=True)], dtype=bool)
        frame = frame[mask]
    frame = frame.sort_values(["unit_id", "code", "date", "revision"])
    frame = frame.drop_duplicates(["unit_id", "code", "date"], keep="last")
    return frame.drop(columns="revision").reset_index(drop=True)


def do_ingest_counts(
    rows: Sequence[CountRow], *, actor: Any = None, request: Any = None, source: str = "api"
) -> IngestResult:
    """Write parsed rows: a new day is revision 0, a changed count a new revision, the same count
    nothing. Revisions of days already past rerun detection for their series."""
    result = IngestResult()
    received = now()
    revised_series: dict[tuple[int, str], date] = {}
    with transaction.atomic():
        latest = {
            (c.unit_id, c.code, c.date): c
            for c in DailyCount.objects.filter(
                unit__in={row.unit.pk for row in rows}, date__in={row.day for row in rows}
            ).order_by("revision")
        }
        new: list[DailyCount] = []
        for row in rows:
            previous = latest.get((row.unit.pk, row.code, row.day))
            if previous is not None and previous.count == row.count:
                result.unchanged += 1
                continue
            revision = 0 if previous is None else previous.revision + 1
            if previous is None:
                result.created += 1
            else:
                result.revised += 1
                key = (row.unit.pk, row.code)
                revised_series[key] = min(row.day, revised_series.get(key, row.day))
            new.append(
                DailyCount(
                    unit=row.unit,
                    date=row.day,
                    code=row.code,
                    count=row.count,
                    revision=revision,
                    received_at=received,
                )
            )
        DailyCount.objects.bulk_create(new)
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="surveillance counts",
            detail={"source": source, "created": result.created, "revised": result.revised},
        )
        for (unit_id, code), earliest in sorted(revised_series.items()):
            runs = DetectionRun.objects.filter(as_of__gte=earliest).order_by("-as_of")
            last_run = runs.values_list("as_of", flat=True).first()
            if last_run is None:
                continue
            lookback = min((last_run - earliest).days + 1, 60)
            do_detect(last_run, lookback=max(lookback, LOOKBACK_DAYS), series=[(unit_id, code)], actor=actor)
            result.redetected.append((ReportingUnit.objects.get(pk=unit_id).code, code))
    return result


@dataclass(frozen=True)
class CaseRow:
    code: str
    onset: date
    reported: date
    place: Place
    unit: ReportingUnit | None
    resident: Resident | None


@dataclass(frozen=True)
class LabRow:
    unit: ReportingUnit
    sampled_on: date
    pathogen: str
    outcome: str
    case: CaseReport | None


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    return "" if value is None else str(value).strip()


def _day(raw: Mapping[str, Any], name: str, number: int, today: date, errors: list[RowError]) -> date | None:
    try:
        day = date.fromisoformat(_text(raw, name))
    except ValueError:
        errors.append(RowError(number, name, "expected a date as YYYY-MM-DD"))
        return None
    if day > today:
        errors.append(RowError(number, name, "is in the future"))
        return None
    return day


def check_case_rows(
    raw_rows: Sequence[Mapping[str, Any]], today: date
) -> tuple[list[CaseRow], list[RowError]]:
    """Parse case reports {code, onset_date, reported_on, place, unit?, citizen_id?}: the place by its
    code, the unit by its code, the resident by citizen ID. Errors name the row and field and never
    repeat the ID."""
    if len(raw_rows) > MAX_ROWS:
        return [], [RowError(0, "rows", f"at most {MAX_ROWS} rows per request")]
    places = {p.code: p for p in Place.objects.filter(code__in={_text(r, "place") for r in raw_rows})}
    units = {u.code: u for u in ReportingUnit.objects.filter(code__in={_text(r, "unit") for r in raw_rows})}
    wanted_ids = {normalise_citizen_id(_text(r, "citizen_id")) for r in raw_rows if _text(r, "citizen_id")}
    residents = {r.citizen_id: r for r in Resident.objects.filter(citizen_id__in=wanted_ids)}
    parsed: list[CaseRow] = []
    errors: list[RowError] = []
    for number, raw in enumerate(raw_rows, start=1):
        row_errors: list[RowError] = []
        code = _text(raw, "code")
        if code not in Syndrome.values:
            row_errors.append(RowError(number, "code", f"unknown code; one of {', '.join(Syndrome.values)}"))
        onset = _day(raw, "onset_date", number, today, row_errors)
        reported = _day(raw, "reported_on", number, today, row_errors)
        if onset is not None and reported is not None and onset > reported:
            row_errors.append(RowError(number, "onset_date", "is after reported_on"))
        place = places.get(_text(raw, "place"))
        if place is None:
            row_errors.append(RowError(number, "place", "no place with this code"))
        unit: ReportingUnit | None = None
        if _text(raw, "unit"):
            unit = units.get(_text(raw, "unit"))
            if unit is None:
                row_errors.append(RowError(number, "unit", "no reporting unit with this code"))
        resident: Resident | None = None
        if _text(raw, "citizen_id"):
            citizen_id = normalise_citizen_id(_text(raw, "citizen_id"))
            try:
                parse_citizen_id(citizen_id, today=today)
                resident = residents.get(citizen_id)
            except ValueError:
                row_errors.append(RowError(number, "citizen_id", "not a valid citizen ID"))
            else:
                if resident is None:
                    row_errors.append(RowError(number, "citizen_id", "no resident with this citizen ID"))
        if not row_errors and onset is not None and reported is not None and place is not None:
            parsed.append(CaseRow(code, onset, reported, place, unit, resident))
        errors.extend(row_errors)
    return parsed, errors


def check_lab_rows(raw_rows: Sequence[Mapping[str, Any]], today: date) -> tuple[list[LabRow], list[RowError]]:
    """Parse lab results {unit, sampled_on, pathogen, outcome, case?}: `case` is a case report's id."""
    if len(raw_rows) > MAX_ROWS:
        return [], [RowError(0, "rows", f"at most {MAX_ROWS} rows per request")]
    units = {u.code: u for u in ReportingUnit.objects.filter(code__in={_text(r, "unit") for r in raw_rows})}
    case_ids = {int(_text(r, "case")) for r in raw_rows if _text(r, "case").isdigit()}
    cases = CaseReport.objects.in_bulk(case_ids)
    parsed: list[LabRow] = []
    errors: list[RowError] = []
    for number, raw in enumerate(raw_rows, start=1):
        row_errors: list[RowError] = []
        unit = units.get(_text(raw, "unit"))
        if unit is None:
            row_errors.append(RowError(number, "unit", "no reporting unit with this code"))
        sampled_on = _day(raw, "sampled_on", number, today, row_errors)
        pathogen = _text(raw, "pathogen")
        if not pathogen or len(pathogen) > 64:
            row_errors.append(RowError(number, "pathogen", "expected a name of 1 to 64 characters"))
        outcome = _text(raw, "outcome") or LabOutcome.PENDING
        if outcome not in LabOutcome.values:
            row_errors.append(RowError(number, "outcome", f"one of {', '.join(LabOutcome.values)}"))
        case: CaseReport | None = None
        if _text(raw, "case"):
            case = cases.get(int(_text(raw, "case"))) if _text(raw, "case").isdigit() else None
            if case is None:
                row_errors.append(RowError(number, "case", "no case report with this id"))
        if not row_errors and unit is not None and sampled_on is not None:
            parsed.append(LabRow(unit, sampled_on, pathogen, outcome, case))
        errors.extend(row_errors)
    return parsed, errors


def do_ingest_cases(
    rows: Sequence[CaseRow], *, actor: Any = None, request: Any = None, source: str = "api"
) -> list[int]:
    """Store case reports (each row a new report); returns their ids. Audited: reports may name a
    resident."""
    with transaction.atomic():
        created = [
            CaseReport.objects.create(
                code=row.code,
                onset_date=row.onset,
                reported_on=row.reported,
                place=row.place,
                unit=row.unit,
                resident=row.resident,
            )
            for row in rows
        ]
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="surveillance case reports",
            detail={
                "source": source,
                "created": len(created),
                "with_resident": sum(1 for row in rows if row.resident is not None),
            },
        )
    return [case.pk for case in created]


def do_ingest_lab_results(
    rows: Sequence[LabRow], *, actor: Any = None, request: Any = None, source: str = "api"
) -> list[int]:
    """Store lab results; returns their ids."""
    with transaction.atomic():
        created = [
            LabResult.objects.create(
                unit=row.unit,
                sampled_on=row.sampled_on,
                pathogen=row.pathogen,
                outcome=row.outcome,
                case=row.case,
            )
            for row in rows
        ]
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="surveillance lab results",
            detail={"source": source, "created": len(created)},
        )
    return [result.pk for result in created]


# Detection -----------------------------------------------------------------------------------------------


@dataclass
class DetectionResult:
    settings: int = 0
    signals_created: int = 0
    signals_removed: int = 0
    alerts_opened: list[int] = field(default_factory=list)


def series_matrix(
    settings: Sequence[DetectorSetting], as_of: date
) -> tuple[pd.DatetimeIndex, dict[tuple[int, str], np.ndarray[Any, Any]]]:
    """Each (unit, code) series of the settings as daily counts up to `as_of` on one shared index;
    a day without a report counts as zero."""
    pairs = {(s.unit_id, s.code) for s in settings}
    frame = latest_counts(pairs, until=as_of)
    if frame.empty:
        return pd.DatetimeIndex([as_of]), {pair: np.zeros(1) for pair in pairs}
    index = pd.date_range(pd.Timestamp(frame.date.min()), pd.Timestamp(as_of), freq="D")
    matrix: dict[tuple[int, str], np.ndarray[Any, Any]] = {pair: np.zeros(len(index)) for pair in pairs}
    positions = index.get_indexer(pd.DatetimeIndex(pd.to_datetime(frame.date)))
    values = frame["count"].to_numpy(dtype=np.float64)
    for key, rows in frame.groupby(["unit_id", "code"]).indices.items():
        unit_id, code = cast(tuple[int, str], key)
        matrix[(int(unit_id), str(code))][positions[rows]] = values[rows]
    return index, matrix


@dataclass(frozen=True)
class DayResult:
    day: date
    count: float
    expected: float | None
    threshold: float | None
    score: float | None
    alarm: bool


def day_results(
    frame: pd.DataFrame, counts: np.ndarray[Any, Any], index: pd.DatetimeIndex, since: date, until: date
) -> list[DayResult]:
    """One detection's days from `since` to `until`, with the count each was judged on."""
    first = int(index.searchsorted(pd.Timestamp(since)))
    last = int(index.searchsorted(pd.Timestamp(until), side="right"))
    expected = frame["expected"].to_numpy(dtype=np.float64)
    threshold = frame["threshold"].to_numpy(dtype=np.float64)
    score = frame["score"].to_numpy(dtype=np.float64)
    alarm = frame["alarm"].to_numpy(dtype=bool)
    return [
        DayResult(
            day=pd.Timestamp(index[i]).date(),
            count=float(counts[i]),
            expected=_finite(expected[i]),
            threshold=_finite(threshold[i]),
            score=_finite(score[i]),
            alarm=bool(alarm[i]),
        )
        for i in range(first, last)
    ]


def detect_frames(
    settings: Sequence[DetectorSetting], as_of: date, lookback: int
) -> tuple[pd.DatetimeIndex, dict[tuple[int, str], np.ndarray[Any, Any]], dict[int, pd.DataFrame]]:
    index, matrix = series_matrix(settings, as_of)
    start = pd.Timestamp(as_of - timedelta(days=lookback - 1))
    jobs = [SeriesJob(s.pk, s.detector, s.parameters, matrix[(s.unit_id, s.code)]) for s in settings]
    return index, matrix, run_batch(jobs, index, max(start, index[0]))


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def do_detect(
    as_of: date,
    *,
    lookback: int = LOOKBACK_DAYS,
    series: Sequence[tuple[int, str]] | None = None,
    actor: Any = None,
) -> DetectionResult:
    """Run every active setting (or those of `series`) up to `as_of`, make the stored signals of the
    last `lookback` days match the alarms, apply the active rules and open the alerts they call for.

    Idempotent: a second run on the same data changes nothing."""
    settings = list(DetectorSetting.objects.filter(active=True).select_related("unit"))
    if series is not None:
        wanted = set(series)
        settings = [s for s in settings if (s.unit_id, s.code) in wanted]
    result = DetectionResult(settings=len(settings))
    if not settings:
        return result
    active_rules = list(AlertRule.objects.filter(active=True))
    # Evidence rules read the p-values of their last `periods` days, stored or not as signals.
    evidence_days = max(
        (
            int(rules.rule_parameters(rule.kind, rule.parameters)["periods"])
            for rule in active_rules
            if rule.kind == RuleKind.COMBINED_EVIDENCE
        ),
        default=0,
    )
    index, matrix, frames = detect_frames(settings, as_of, max(lookback, evidence_days))
    evidence = _evidence(settings, frames, index, as_of, evidence_days)
    since = as_of - timedelta(days=lookback - 1)
    created_at = now()
    with transaction.atomic():
        existing = {
            (s.setting_id, s.date): s
            for s in Signal.objects.filter(setting__in=settings, date__gte=since, date__lte=as_of)
        }
        new: list[Signal] = []
        alarmed: set[tuple[int, date]] = set()
        for setting in settings:
            counts = matrix[(setting.unit_id, setting.code)]
            for result_day in day_results(frames[setting.pk], counts, index, since, as_of):
                key = (setting.pk, result_day.day)
                if not result_day.alarm:
                    continue
                alarmed.add(key)
                if key in existing:
                    continue
                new.append(
                    Signal(
                        setting=setting,
                        date=result_day.day,
                        count=result_day.count,
                        expected=result_day.expected,
                        threshold=result_day.threshold,
                        score=result_day.score,
                        created_at=created_at,
                    )
                )
        stale = [signal.pk for key, signal in existing.items() if key not in alarmed]
        Signal.objects.filter(pk__in=stale).delete()
        Signal.objects.bulk_create(new)
        result.signals_created = len(new)
        result.signals_removed = len(stale)
        result.alerts_opened = _apply_rules(as_of, created_at, active_rules, evidence)
        if series is None:
            DetectionRun.objects.update_or_create(as_of=as_of, defaults={"ran_at": created_at})
        record(
            actor=actor,
            action=Action.GENERATE,
            resource_type="surveillance detection",
            resource_id=as_of.isoformat(),
            detail={
                "settings": result.settings,
                "signals_created": result.signals_created,
                "signals_removed": result.signals_removed,
                "alerts_opened": len(result.alerts_opened),
            },
        )
    return result


def _evidence(
    settings: Sequence[DetectorSetting],
    frames: Mapping[int, pd.DataFrame],
    index: pd.DatetimeIndex,
    as_of: date,
    days: int,
) -> list[rules.EvidenceFact]:
    if days < 1:
        return []
    first = int(index.searchsorted(pd.Timestamp(as_of - timedelta(days=days - 1))))
    last = int(index.searchsorted(pd.Timestamp(as_of), side="right"))
    facts = []
    for setting in settings:
        p_values = frames[setting.pk]["p_value"].to_numpy(dtype=np.float64)
        for i in range(first, last):
            facts.append(
                rules.EvidenceFact(
                    setting.unit.code,
                    setting.code,
                    setting.detector,
                    pd.Timestamp(index[i]).date(),
                    _finite(p_values[i]),
                )
            )
    return facts


def _apply_rules(
    as_of: date,
    created_at: datetime,
    active_rules: Sequence[AlertRule],
    evidence: Sequence[rules.EvidenceFact] = (),
) -> list[int]:
    since = as_of - timedelta(days=RULE_WINDOW_DAYS)
    signal_rows = Signal.objects.filter(date__gte=since, date__lte=as_of).select_related("setting__unit")
    facts = [
        rules.SignalFact(s.setting.unit.code, s.setting.code, s.setting.detector, s.date) for s in signal_rows
    ]
    cases = [
        rules.CaseFact(c.pk, c.code, c.onset_date, c.reported_on, c.unit.code if c.unit else None)
        for c in CaseReport.objects.filter(reported_on__gte=since, reported_on__lte=as_of).select_related(
            "unit"
        )
    ]
    units = {u.code: u for u in ReportingUnit.objects.all()}
    coordinates = {code: (u.lat, u.lon) for code, u in units.items()}
    counts_by_code = _scan_tables(active_rules, as_of, units)
    opened: list[int] = []
    for rule in active_rules:
        triggers = rules.evaluate_rule(
            rule.kind,
            rule.parameters,
            as_of=as_of,
            signals=facts,
            cases=cases,
            coordinates=coordinates,
            evidence=evidence,
            counts_by_code=counts_by_code,
        )
        for trigger in triggers:
            ongoing = Alert.objects.filter(rule=rule, key=trigger.key, state__in=rules.OPEN_STATES)
            if ongoing.exists():
                continue
            alert, created = Alert.objects.get_or_create(
                rule=rule,
                key=trigger.key,
                opened_on=as_of,
                defaults={
                    "code": trigger.code,
                    "created_at": created_at,
                    "snapshot": _snapshot(trigger, as_of, units),
                },
            )
            if not created:
                continue
            alert.units.set([units[code] for code in trigger.units if code in units])
            AlertEvent.objects.create(alert=alert, from_state="", to_state=AlertState.SIGNAL, at=created_at)
            _notify(alert, cdc_officers(), f"New alert: {rule.name} ({trigger.code})", created_at)
            opened.append(alert.pk)
    return opened


def _scan_tables(
    active_rules: Sequence[AlertRule], as_of: date, units: Mapping[str, ReportingUnit]
) -> dict[str, pd.DataFrame]:
    """Per code, the days × units table of the longest study period a scan rule asks for."""
    study_days = max(
        (
            int(rules.rule_parameters(rule.kind, rule.parameters)["study_days"])
            for rule in active_rules
            if rule.kind == RuleKind.SPACE_TIME_SCAN
        ),
        default=0,
    )
    if study_days == 0:
        return {}
    since = as_of - timedelta(days=study_days - 1)
    frame = latest_counts(until=as_of)
    frame = frame[frame.date >= since]
    if frame.empty:
        return {}
    by_id = {unit.pk: code for code, unit in units.items()}
    frame = frame.assign(
        unit=frame.unit_id.map(by_id), date=pd.to_datetime(frame.date), count=frame["count"].astype(float)
    )
    index = pd.date_range(pd.Timestamp(since), pd.Timestamp(as_of), freq="D")
    tables = {}
    for code, rows in frame.groupby("code"):
        table = rows.pivot_table(index="date", columns="unit", values="count", aggfunc="sum")
        tables[str(code)] = table.reindex(index, fill_value=0.0).fillna(0.0)
    return tables


def _snapshot(trigger: rules.Trigger, as_of: date, units: Mapping[str, ReportingUnit]) -> dict[str, Any]:
    """The data the alert was raised on, frozen: the last 28 days of each unit's counts and signals."""
    since = as_of - timedelta(days=27)
    pairs = [(units[code].pk, trigger.code) for code in trigger.units if code in units]
    frame = latest_counts(pairs, until=as_of)
    frame = frame[frame.date >= since]
    by_unit = {unit.pk: unit.code for unit in units.values()}
    series: dict[str, list[list[Any]]] = {}
    for unit_id, day, count in zip(
        frame.unit_id.tolist(), frame.date.tolist(), frame["count"].tolist(), strict=True
    ):
        series.setdefault(by_unit[int(unit_id)], []).append([day.isoformat(), int(count)])
    signals = [
        {
            "unit": s.setting.unit.code,
            "detector": s.setting.detector,
            "date": s.date.isoformat(),
            "count": s.count,
            "threshold": s.threshold,
        }
        for s in Signal.objects.filter(
            setting__unit__code__in=trigger.units,
            setting__code=trigger.code,
            date__gte=since,
            date__lte=as_of,
        )
        .select_related("setting__unit")
        .order_by("date", "setting_id")
    ]
    return {"as_of": as_of.isoformat(), "trigger": trigger.detail, "counts": series, "signals": signals}


def cdc_officers() -> list[User]:
    return list(User.objects.filter(is_active=True, account__role=Role.CDC_OFFICER).order_by("id"))


def _notify(alert: Alert, recipients: Iterable[User], subject: str, at: datetime) -> None:
    Notification.objects.bulk_create(
        Notification(alert=alert, recipient=user, subject=subject[:200], created_at=at) for user in recipients
    )


# Workflow ------------------------------------------------------------------------------------------------


class TransitionError(ValueError):
    pass


def check_transition(alert: Alert, target: str, note: str, assignee: User | None) -> str | None:
    problem = rules.check_transition(alert.state, target, note)
    if problem is not None:
        return problem
    if assignee is not None and target != AlertState.ASSIGNED:
        return "an assignee is only given when assigning"
    if (
        assignee is not None
        and not User.objects.filter(pk=assignee.pk, is_active=True, account__role=Role.CDC_OFFICER).exists()
    ):
        return "alerts are assigned to CDC officers"
    return None


def do_transition(
    alert: Alert,
    target: str,
    *,
    actor: User,
    note: str = "",
    assignee: User | None = None,
    request: Any = None,
) -> Alert:
    """Move an alert on; the assignee defaults to the officer assigning it. Raises TransitionError."""
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        problem = check_transition(locked, target, note, assignee)
        if problem is not None:
            raise TransitionError(problem)
        at = now()
        previous = locked.state
        locked.state = target
        if target == AlertState.ASSIGNED:
            locked.assignee = assignee or actor
        locked.save(update_fields=["state", "assignee"])
        AlertEvent.objects.create(
            alert=locked, from_state=previous, to_state=target, actor=actor, at=at, note=note.strip()
        )
        if target == AlertState.ASSIGNED and locked.assignee is not None:
            _notify(locked, [locked.assignee], f"Alert {locked.pk} assigned to you", at)
        record(
            request=request,
            actor=actor,
            action=Action.UPDATE,
            resource_type="alert",
            resource_id=locked.pk,
            detail={"from": previous, "to": target},
        )
    return locked


# Reads for pages and the API -----------------------------------------------------------------------------


def series_points(
    unit: ReportingUnit, code: str, *, as_of: date, days: int = 180, detector: str | None = None
) -> dict[str, Any]:
    """A unit's series for a chart: the latest counts of the last `days` days up to `as_of`, with one
    setting's expected value, threshold and alarms (the named detector, else the first active one)."""
    settings = DetectorSetting.objects.filter(unit=unit, code=code, active=True).order_by("detector")
    if detector:
        settings = settings.filter(detector=detector)
    setting = settings.first()
    since = as_of - timedelta(days=days - 1)
    points: list[dict[str, Any]] = []
    if setting is not None:
        index, matrix, frames = detect_frames([setting], as_of, days)
        for result_day in day_results(frames[setting.pk], matrix[(unit.pk, code)], index, since, as_of):
            points.append(
                {
                    "date": result_day.day.isoformat(),
                    "count": int(result_day.count),
                    "expected": result_day.expected,
                    "threshold": result_day.threshold,
                    "alarm": result_day.alarm,
                }
            )
    else:
        frame = latest_counts([(unit.pk, code)], until=as_of)
        frame = frame[frame.date >= since]
        for day, count in zip(frame.date.tolist(), frame["count"].tolist(), strict=True):
            points.append(
                {
                    "date": day.isoformat(),
                    "count": int(count),
                    "expected": None,
                    "threshold": None,
                    "alarm": False,
                }
            )
    return {
        "unit": unit.code,
        "code": code,
        "detector": setting.detector if setting is not None else None,
        "points": points,
    }
