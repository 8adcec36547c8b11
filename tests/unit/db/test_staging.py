"""The SQL the shared staging helpers build (their COPY and merge run in the collect
integration tests, against a real Postgres)."""

from __future__ import annotations

from bullpen.db.staging import update_changed


def test_update_changed_rewrites_only_rows_whose_values_differ() -> None:
    assert update_changed("odds", ("total", "over_price")) == (
        "DO UPDATE SET total = EXCLUDED.total, over_price = EXCLUDED.over_price"
        " WHERE (odds.total, odds.over_price) IS DISTINCT FROM"
        " (EXCLUDED.total, EXCLUDED.over_price)"
    )
