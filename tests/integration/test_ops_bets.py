"""The exporter's forward-record families (issue #17 item 5) over a real Postgres ledger: picks
recorded and settled with bullpen.betting.ledger, then scraped; every value checked by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from bullpen.betting.ledger import load_bets, record_pick, settle_bets
from bullpen.betting.picks import ClosingLine, GameOutcome, Pick, StakePolicy
from bullpen.db import engine
from bullpen.ops import metrics
from bullpen.ops.targets import Targets

DECIDED = datetime(2030, 7, 20, 16, tzinfo=UTC)
LATER = DECIDED + timedelta(hours=1)
SETTLED = datetime(2030, 7, 21, 9, tzinfo=UTC)
NOW = SETTLED + timedelta(minutes=30)  # the collector's clock


def scrape(registry: CollectorRegistry) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(metrics.render(registry).decode()):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def of(scraped: dict, name: str, strategy: str) -> float:
    return scraped[name][(("strategy_version", strategy),)]


@pytest.fixture(scope="module")
def db(bullpen_env: dict[str, str]) -> Iterator[psycopg.Connection]:
    with engine.connect(bullpen_env["BULLPEN_DATABASE_URL"], autocommit=True) as conn:
        yield conn


def _game(db: psycopg.Connection, away: str, home: str) -> int:
    row = db.execute(
        "INSERT INTO games (season, game_date, away_team, home_team)"
        " VALUES (2030, '2030-07-20', %s, %s) RETURNING game_id",
        (away, home),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _pick(game_id: int, side: str, price: int, strategy: str, consensus_home: float) -> Pick:
    p_side = 0.58
    return Pick(
        game_id=game_id, side=side, book="pinnacle", price_american=price, quoted_at=DECIDED,
        p_home=p_side if side == "home" else 1 - p_side,
        p_away=1 - p_side if side == "home" else p_side,
        consensus_home=consensus_home, consensus_method="median/shin", model_version="7",
        strategy_version=strategy, reason="test: an edge at the best price",
    )  # fmt: skip


def test_exporter_reports_the_ledgers_forward_record(
    db: psycopg.Connection, bullpen_env: dict[str, str], tmp_path: Path
) -> None:
    registry = CollectorRegistry(auto_describe=False)
    targets = Targets(bullpen_env["BULLPEN_DATABASE_URL"], None, tmp_path)
    registry.register(metrics.BullpenCollector(targets, clock=NOW.timestamp))

    empty = scrape(registry)
    assert empty["bullpen_probe_success"][(("probe", "bets"),)] == 1.0
    assert "bullpen_bets_picks_open" not in empty  # an empty ledger: no series invented

    g1, g2, g3 = _game(db, "NYY", "BOS"), _game(db, "TB", "BAL"), _game(db, "SEA", "OAK")
    policy = StakePolicy()
    writes = [
        record_pick(db, _pick(g1, "home", -110, "s1", 0.52), policy, at=DECIDED),
        record_pick(db, _pick(g2, "away", 100, "s1", 0.52), policy, at=DECIDED),
        record_pick(db, _pick(g3, "home", -110, "s1", 0.50), policy, at=LATER),
        record_pick(db, _pick(g1, "home", -110, "s2", 0.52), policy, at=DECIDED),
    ]
    assert [w.action for w in writes] == ["opened"] * 4
    assert all(w.stake > 0 for w in writes)

    opened = scrape(registry)
    assert of(opened, "bullpen_bets_opportunities", "s1") == 3
    assert of(opened, "bullpen_bets_picks_open", "s1") == 3
    assert of(opened, "bullpen_bets_picks_open", "s2") == 1
    assert of(opened, "bullpen_bets_stake_at_risk", "s1") == pytest.approx(
        sum(w.stake for w in writes[:3])
    )
    assert of(opened, "bullpen_bets_picks_settled", "s1") == 0
    assert "bullpen_bets_forward_roi" not in opened and "bullpen_bets_forward_clv" not in opened
    assert of(opened, "bullpen_bets_last_pick_timestamp_seconds", "s1") == LATER.timestamp()
    assert of(opened, "bullpen_bets_last_pick_age_seconds", "s1") == pytest.approx(
        (NOW - LATER).total_seconds()
    )
    assert of(opened, "bullpen_bets_last_pick_timestamp_seconds", "s2") == DECIDED.timestamp()

    # Home wins both finished games (s1: home pick won at -110, away pick lost at +100); the
    # third game is postponed: void, out of ROI and CLV, no longer at risk.
    outcomes = [
        GameOutcome(g1, "final", 5, 3),
        GameOutcome(g2, "final", 4, 2),
        GameOutcome(g3, "postponed"),
    ]
    closing = {g1: ClosingLine(0.55, "median/shin"), g2: ClosingLine(0.50, "median/shin")}
    summary = settle_bets(db, outcomes, closing, at=SETTLED)
    assert summary.by_state == {"won": 2, "lost": 1, "void": 1}

    settled = scrape(registry)
    won, lost = writes[0].stake, writes[1].stake
    assert of(settled, "bullpen_bets_picks_open", "s1") == 0
    assert of(settled, "bullpen_bets_stake_at_risk", "s1") == 0.0
    assert of(settled, "bullpen_bets_picks_settled", "s1") == 2
    assert of(settled, "bullpen_bets_opportunities", "s1") == 3
    # ROI by hand: (won * 100/110 - lost) / (won + lost); CLV: home 0.55 - 0.52, away
    # (1 - 0.50) - (1 - 0.52) = 0.02.
    roi = (round(won * 100 / 110, 4) - lost) / (won + lost)
    assert of(settled, "bullpen_bets_forward_roi", "s1") == pytest.approx(roi, abs=1e-9)
    assert of(settled, "bullpen_bets_forward_clv", "s1") == pytest.approx((0.03 + 0.02) / 2)
    assert of(settled, "bullpen_bets_forward_roi", "s2") == pytest.approx(100 / 110, abs=1e-4)
    assert of(settled, "bullpen_bets_forward_clv", "s2") == pytest.approx(0.03)
    ledger = load_bets(db)
    assert ledger["profit"].sum() == pytest.approx(summary.profit)

    # The probe stands apart: a ledger that cannot be read fails "bets", not "database".
    db.execute("ALTER TABLE bets RENAME TO bets_away")
    try:
        broken = scrape(registry)
    finally:
        db.execute("ALTER TABLE bets_away RENAME TO bets")
    assert broken["bullpen_probe_success"][(("probe", "bets"),)] == 0.0
    assert broken["bullpen_probe_success"][(("probe", "database"),)] == 1.0
    assert "bullpen_bets_picks_open" not in broken
