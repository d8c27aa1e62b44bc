from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing import clock
from billing.settings import ConfigurationError, Settings


def test_frozen_clock_is_used_everywhere_and_restorable():
    frozen = clock.FrozenClock(datetime(2028, 2, 29, 12, tzinfo=UTC))
    previous = clock.set_clock(frozen)
    try:
        assert clock.now() == datetime(2028, 2, 29, 12, tzinfo=UTC)
        frozen.advance(timedelta(days=1))
        assert clock.now() == datetime(2028, 3, 1, 12, tzinfo=UTC)
    finally:
        clock.set_clock(previous)
    assert clock.now().tzinfo is not None


def test_offset_clock_persists_in_its_file(tmp_path):
    path = tmp_path / "clock.json"
    c = clock.OffsetClock(path)
    c.advance(timedelta(days=31))
    again = clock.OffsetClock(path)  # another process, or a restart
    assert again.offset() == timedelta(days=31)
    assert again.now() - datetime.now(UTC) > timedelta(days=30)


def test_missing_required_setting_fails_loudly():
    settings = Settings.from_env({})
    with pytest.raises(ConfigurationError, match="BILLING_TABLE"):
        settings.require("billing_table")
    assert Settings.from_env({"BILLING_TABLE": "t"}).require("billing_table") == "t"
