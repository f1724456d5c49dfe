"""The Salmonella Newport reference series and R's alarms on it (see data/README.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Reference:
    series: pd.Series  # training and test weeks as one series, as R saw them
    test_weeks: pd.DatetimeIndex  # the weeks R raised alarms for
    r_alarms: dict[str, pd.Series]  # by R algorithm name, on the test weeks


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, index_col=0, parse_dates=True)


@pytest.fixture(scope="session")
def salmonella() -> Reference:
    train = _read("salmonella_newport_train.csv")
    test = _read("salmonella_newport_test.csv")
    # R was given the training counts less their outbreak cases (epysurv's `fit`); there are none.
    series = pd.concat([train.n_cases - train.n_outbreak_cases, test.n_cases]).rename("n_cases")
    alarms = {
        name: _read(f"r_surveillance_{name}_alarms.csv").alarm.astype(bool)
        for name in ("EarsC1", "EarsC2", "EarsC3", "farringtonFlexible")
    }
    return Reference(series=series, test_weeks=pd.DatetimeIndex(test.index), r_alarms=alarms)
