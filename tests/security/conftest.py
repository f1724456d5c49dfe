"""Log hygiene (C5): capture every log record a flow produces and check it for personal data and
secrets."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

CITIZEN_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])")
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
# Secret-looking assignments: password=..., sessionid=..., csrftoken=..., Authorization: Bearer ...
SECRET_FIELD = re.compile(r"(?i)(password|passwd|sessionid|csrftoken|bearer)\W{0,3}[=: ]\W{0,2}\w{6,}")


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class LogCapture:
    """Every record logged anywhere while the fixture is active, at DEBUG and above."""

    handler: _Collector
    secrets: set[str] = field(default_factory=set)

    def texts(self) -> list[str]:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        return [formatter.format(record) for record in self.handler.records]

    def problems(self) -> list[str]:
        found = []
        for text in self.texts():
            for pattern in (CITIZEN_ID, PHONE, SECRET_FIELD):
                found += [
                    f"{pattern.pattern}: {m.group()!r} in {text[:200]!r}" for m in pattern.finditer(text)
                ]
            found += [f"secret {s[:4]}… in {text[:200]!r}" for s in self.secrets if s and s in text]
        return found


@pytest.fixture
def captured_logs() -> Iterator[LogCapture]:
    root = logging.getLogger()
    handler = _Collector()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield LogCapture(handler)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
