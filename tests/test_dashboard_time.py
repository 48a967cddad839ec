"""The dashboard shows when this laptop last sent a bundle in local time, not as the
UTC stamp it is stored as."""

from __future__ import annotations

from typing import Any


def test_the_dashboards_last_export_is_local_time(monkeypatch: Any) -> None:
    import time

    from villagebook.services.dashboard import local_moment

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        assert local_moment("2026-06-01T10:00:00+00:00") == "2026-06-01 18:00"
        assert local_moment("2026-06-01T10:00:00") == "2026-06-01 18:00"  # stored as UTC
        assert local_moment("not a date") == "not a date"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
