from __future__ import annotations

import pytest

from jiayi.points import services


@pytest.fixture
def point_rules(db: None) -> None:
    services.ensure_default_rules()
