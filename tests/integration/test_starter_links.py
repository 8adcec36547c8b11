"""starter_links on real PostgreSQL: 2019 linked, stored idempotently, loaded back, cascaded."""

from __future__ import annotations

import hashlib

import pandas as pd

from bullpen.collect.history.seasons import read_season_files
from bullpen.collect.history.store import write_history_file
from bullpen.db import engine
from bullpen.db.migrate import write_teams
from bullpen.players.linking import LINK_COLUMNS, link_listed_starters, load_links, store_links
from tests.conftest import DATA
from tests.unit.players.test_linking import season_rosters

SEASON = 2019


def test_links_store_idempotently_and_cascade(bullpen_env: dict[str, str]) -> None:
    url = bullpen_env["BULLPEN_DATABASE_URL"]
    odds = DATA / "odds" / f"mlb_odds_{SEASON}.csv.gz"
    parsed = read_season_files(odds, DATA / "retrosheet" / f"GL{SEASON}.TXT.gz")
    # Autocommit: each store_links is its own transaction, so a rewritten row gets a new xmin.
    with engine.connect(url, autocommit=True) as conn:
        write_teams(conn)
        write_history_file(
            conn,
            file=odds.name,
            sha256=hashlib.sha256(odds.read_bytes()).hexdigest(),
            games=parsed.games,
            quarantined=parsed.quarantined,
        )
        cur = conn.execute(
            "SELECT game_id, season, away_team, home_team, away_pitcher, home_pitcher,"
            " away_starter_id, home_starter_id FROM games ORDER BY game_id"
        )
        games = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description or ()])
        links = link_listed_starters(games, season_rosters(SEASON))
        assert store_links(conn, links) == 2 * len(games)
        versions_sql = "SELECT game_id, side, xmin::text FROM starter_links ORDER BY 1, 2"
        versions = conn.execute(versions_sql).fetchall()

        # A rerun rewrites nothing; the stored frame equals the computed one.
        store_links(conn, links)
        assert conn.execute(versions_sql).fetchall() == versions
        stored = load_links(conn)
        expected = links.sort_values(["game_id", "side"], ignore_index=True)
        expected = expected.astype(object).where(expected.notna(), None)
        pd.testing.assert_frame_equal(
            stored[list(LINK_COLUMNS)].astype(object),
            expected[list(LINK_COLUMNS)].astype(object),
            check_dtype=False,
        )
        assert (stored["method"] != "unmatched").mean() > 0.99

        # A changed link is updated in place; deleting a game drops its links.
        changed = links.copy()
        first = changed.index[0]
        changed.loc[first, ["listed_starter", "method", "reason"]] = [None, "unmatched", "test"]
        store_links(conn, changed)
        row = conn.execute(
            "SELECT method, reason FROM starter_links WHERE game_id = %s AND side = %s",
            (int(changed.loc[first, "game_id"]), int(changed.loc[first, "side"])),
        ).fetchone()
        assert row == ("unmatched", "test")
        conn.execute("DELETE FROM games WHERE game_id = %s", (int(games["game_id"].iloc[0]),))
        assert len(load_links(conn)) == 2 * len(games) - 2
