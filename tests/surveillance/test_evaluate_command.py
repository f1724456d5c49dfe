"""`jiayi surveillance evaluate` on a tiny design: the table it prints and the files it writes."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def test_it_prints_metrics_per_detector_and_rule_and_writes_csv_and_charts(tmp_path: Path) -> None:
    out = StringIO()
    call_command(
        "surveillance",
        "evaluate",
        "--scenarios",
        "0,20",
        "--replicates",
        "4",
        "--ks",
        "3,8",
        "--out",
        str(tmp_path),
        stdout=out,
    )
    text = out.getvalue()

    for name in ("EARS C1", "improved Farrington", "moving percentile P90", "two of six agree"):
        assert name in text
    assert "At a matched false-positive rate of 1%" in text
    matched = pd.read_csv(tmp_path / "matched_fpr.csv", index_col=0)
    assert list(matched.columns) == ["tuned_fpr", "fpr", "specificity", "sensitivity", "pod", "median_delay"]
    assert (matched.tuned_fpr <= 0.01).all()
    assert len(matched) == 11  # six detectors and five rules
    assert "improved Farrington evidence over 2 periods" in matched.index
    pod = pd.read_csv(tmp_path / "pod_by_k.csv", index_col=0)
    assert list(pod.columns) == ["3.0", "8.0"]
    assert (tmp_path / "pod_by_k.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "pod_by_k.svg").read_text().lstrip().startswith("<?xml")


def test_it_is_reproducible_for_a_seed(tmp_path: Path) -> None:
    args = ["surveillance", "evaluate", "--scenarios", "3", "--replicates", "3", "--ks", "5", "--seed", "9"]
    call_command(*args, "--out", str(tmp_path / "a"), stdout=StringIO())
    call_command(*args, "--out", str(tmp_path / "b"), stdout=StringIO())
    assert (tmp_path / "a" / "cells.csv").read_text() == (tmp_path / "b" / "cells.csv").read_text()


@pytest.mark.parametrize("scenarios", ["42", "x"])
def test_it_rejects_unknown_scenarios(scenarios: str, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="scenarios are numbers"):
        call_command("surveillance", "evaluate", "--scenarios", scenarios, "--out", str(tmp_path))
