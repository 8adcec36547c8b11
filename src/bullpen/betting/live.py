"""Live picks for the opener strategy: score games not started yet with the closing-line
champion and bet where the predicted close is far enough from the market at decision time.

The rule is the backtest's (bullpen.betting.backtest `_pick_sides`, used by the opener through
`run_backtest`), applied at the moment of decision instead of at the open:

- the side is the one whose predicted closing probability exceeds the vig-free market probability
  at decision time (home when the edges tie), and it is bet when that edge is above the chosen
  threshold;
- the stake is fractional Kelly with the predicted closing probability of the side, at the best
  price across books (bullpen.betting.picks.size_stake), capped per bet and per day.

In the backtest the decision is taken at the open, so "market at decision time" is the vig-free
opening price; live it is the consensus of the fresh quotes now (bullpen.market.lines), which is
the opening consensus when the flow runs right after the lines open. The model's own inputs are
the feature frame the backtest reads (bullpen.features.dataset) with the market's opening numbers
taken from the live lines. A feature the live path cannot supply stays missing (NaN, which the
trees treat as missing) and is named in the result and in the pick's reason; nothing is filled in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from bullpen.betting.opener import ABSTAIN, OpenerParams
from bullpen.betting.picks import Pick, PickWrite
from bullpen.features.odds import devig_two_way
from bullpen.market.lines import GameLines
from bullpen.teams import GAME_TIMEZONE

# The column the closing-line model's base margin comes from: without it there is no score.
OPEN_PROB = "mkt_open_home_prob"
# Days around today whose games the flow reads lines for (late games run past midnight UTC).
WINDOW_DAYS = (1, 2)


@dataclass(frozen=True)
class GameDecision:
    """What happened to one game not started yet (picked or why not)."""

    game_id: int
    event_id: str
    game_date: date
    away_team: str
    home_team: str
    commence_time: datetime
    p_close_pred: float | None  # None: not scored
    consensus_home: float | None  # vig-free consensus now
    consensus_method: str | None
    side: str | None
    edge: float | None
    missing_features: tuple[str, ...]
    outcome: str  # pick | no_edge | not_scored | no_fresh_quote | no_price | abstain
    reason: str


@dataclass
class RecommendResult:
    """One recommend-bets run: the champion and settings used, every game's decision, the
    ledger's answer for each pick (opened, price_moved, unchanged, no_stake, settled)."""

    now: datetime
    model_version: str
    strategy_version: str
    params: OpenerParams
    params_why: str
    decisions: list[GameDecision]
    picks: list[Pick]
    writes: list[PickWrite] = field(default_factory=list)
    missing_features: dict[str, int] = field(default_factory=dict)
    without_history: list[str] = field(default_factory=list)
    excluded_quotes: int = 0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.decisions:
            out[d.outcome] = out.get(d.outcome, 0) + 1
        return out

    def written(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for w in self.writes:
            out[w.action] = out.get(w.action, 0) + 1
        return out

    def pick_rows(self) -> list[dict[str, object]]:
        """Today's picks with the ledger's stake (the table artifact's rows)."""
        games = {d.game_id: d for d in self.decisions}
        rows = []
        for pick, write in zip(self.picks, self.writes, strict=True):
            game = games[pick.game_id]
            rows.append(
                {
                    "game": f"{game.away_team} @ {game.home_team}",
                    "first_pitch": game.commence_time.isoformat(),
                    "side": pick.side,
                    "book": pick.book,
                    "price": pick.price_american,
                    "p_close_pred": pick.p_side,
                    "consensus": (
                        pick.consensus_home if pick.side == "home" else 1 - pick.consensus_home
                    ),
                    "stake": write.stake,
                    "ledger": write.action,
                    "bet_id": write.bet_id,
                }
            )
        return rows

    def as_dict(self) -> dict[str, object]:
        return {
            "now": self.now.isoformat(),
            "model_version": self.model_version,
            "strategy_version": self.strategy_version,
            "params": asdict(self.params),
            "params_why": self.params_why,
            "games": self.counts(),
            "written": self.written(),
            "picks": self.pick_rows(),
            "missing_features": self.missing_features,
            "features_without_history": self.without_history,
            "excluded_quotes": self.excluded_quotes,
            "decisions": [
                {**asdict(d), "game_date": str(d.game_date), "commence_time": str(d.commence_time)}
                for d in self.decisions
            ],
        }


def strategy_version(model_version: str, params: OpenerParams) -> str:
    """The ledger's strategy key: the champion version and the settings that pick and size."""
    p = params
    return f"opener:closing-line-v{model_version}:t{p.threshold:g}:k{p.kelly_multiplier:g}"


def game_window(now: datetime) -> tuple[date, date]:
    """Game dates (US Eastern, MLB's official date) whose lines a run at `now` reads."""
    today = pd.Timestamp(now).tz_convert(GAME_TIMEZONE).date()
    return today - timedelta(days=WINDOW_DAYS[0]), today + timedelta(days=WINDOW_DAYS[1])


def games_in_window(conn: psycopg.Connection, first: date, last: date) -> list[int]:
    rows = conn.execute(
        "SELECT game_id FROM games WHERE game_date BETWEEN %s AND %s ORDER BY game_id",
        (first, last),
    ).fetchall()
    return [int(r[0]) for r in rows]


def upcoming_games(lines: GameLines) -> pd.DataFrame:
    """Linked events not started at `lines.now`: event_id, game_id, commence_time."""
    events = lines.events
    if "game_id" not in events.columns:
        return pd.DataFrame(columns=["event_id", "game_id", "commence_time"])
    keep = ~events["started"] & events["game_id"].notna()
    out = events.loc[keep, ["event_id", "game_id", "commence_time"]].copy()
    out["game_id"] = out["game_id"].astype("int64")
    return out.reset_index(drop=True)


# Totals are market 2 of odds_markets; home_over is the over price, away_under the under.
_TOTALS_QUERY = """
SELECT m.game_id, b.book, s.last_update, s.point::float8 AS point,
       s.home_over_american AS over_american, s.away_under_american AS under_american
FROM odds_snapshots s
JOIN odds_events e USING (event_key)
JOIN bookmakers b USING (book_id)
JOIN mlb_games m ON m.game_pk = e.game_pk
WHERE s.market = 2 AND s.last_update <= %(until)s AND s.last_update <= e.commence_time
  AND m.game_id = ANY(%(games)s)
ORDER BY m.game_id, b.book, s.last_update
"""
TOTALS_COLUMNS = ("game_id", "book", "last_update", "point", "over_american", "under_american")


def load_totals_snapshots(
    conn: psycopg.Connection, *, until: datetime, game_ids: Sequence[int]
) -> pd.DataFrame:
    """Pre-game totals quotes of these games' linked events, updated at or before `until`."""
    cur = conn.execute(_TOTALS_QUERY, {"until": until, "games": [int(g) for g in game_ids]})
    return pd.DataFrame(cur.fetchall(), columns=list(TOTALS_COLUMNS))


def open_totals(
    snapshots: pd.DataFrame, devig_method: str, sharp_books: Sequence[str] = ("pinnacle",)
) -> pd.DataFrame:
    """Per game the opening total and its vig-free over probability, from each book's first
    valid totals quote: a sharp book's when it quotes, else the total most books opened at
    (ties: the lower) and the median over probability of the books at that total (books at
    other totals price another bet, so they are left out). Columns: game_id, open_total,
    open_over_prob, method, n_books."""
    columns = ["game_id", "open_total", "open_over_prob", "method", "n_books"]
    if snapshots.empty:
        return pd.DataFrame(columns=columns)
    snaps = snapshots.sort_values(["game_id", "book", "last_update"], kind="stable").copy()
    snaps["over_prob"] = devig_two_way(
        snaps["over_american"].astype(float), snaps["under_american"].astype(float), devig_method
    )
    snaps = snaps[snaps["point"].notna() & snaps["over_prob"].notna()]
    first = snaps.groupby(["game_id", "book"], sort=False).head(1)
    rows = []
    for game_id, group in first.groupby("game_id", sort=True):
        sharp = next((b for b in sharp_books if b in set(group["book"])), None)
        if sharp is not None:
            row = group[group["book"] == sharp].iloc[0]
            point, prob, method, n = row["point"], row["over_prob"], f"sharp:{sharp}", 1
        else:
            counts = group["point"].value_counts()
            point = min(counts[counts == counts.max()].index)
            at_point = group[group["point"] == point]
            prob, method, n = float(np.median(at_point["over_prob"])), "modal total", len(at_point)
        rows.append([int(game_id), float(point), float(prob), method, n])
    return pd.DataFrame(rows, columns=columns)


def model_inputs(
    features: pd.DataFrame,
    lines: GameLines,
    game_ids: Sequence[int],
    totals: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The feature rows of `game_ids` with the market's opening numbers from the live lines.

    The open home probability is the lines' opening consensus (vig-free with the lines' devig
    method), what the replayed seasons' `mkt_open_home_prob` is: the vig-free price when the
    market opened; the opening total and over probability come from `open_totals` when given.
    A game that has its own opening numbers (a replayed game) keeps them. Every other feature is
    the frame's own.
    """
    rows = features[features["game_id"].isin(list(game_ids))].copy()
    opened = lines.consensus[lines.consensus["phase"] == "open"]
    if "game_id" in opened.columns:
        by_game = opened.dropna(subset=["game_id"]).set_index(
            opened["game_id"].dropna().astype("int64")
        )["fair_home"]
    else:
        by_game = pd.Series(dtype=float)
    live_open = rows["game_id"].map(by_game).astype(float)
    # A replayed game already has its own opening price; a live game takes the lines' one.
    for column in (OPEN_PROB, "p_open_home"):
        rows[column] = rows[column].where(rows[column].notna(), live_open)
    if totals is not None and not totals.empty:
        by_total = totals.set_index("game_id")
        for column, source in (
            ("mkt_open_total", "open_total"),
            ("open_total", "open_total"),
            ("mkt_open_over_prob", "open_over_prob"),
            ("p_open_over", "open_over_prob"),
        ):
            live_value = rows["game_id"].map(by_total[source]).astype(float)
            rows[column] = rows[column].where(rows[column].notna(), live_value)
    return rows.reset_index(drop=True)


def with_games(upcoming: pd.DataFrame, inputs: pd.DataFrame) -> pd.DataFrame:
    """Upcoming events with their game's date and teams (from the feature rows)."""
    info = inputs[["game_id", "game_date", "away_team", "home_team"]]
    return upcoming.merge(info, on="game_id", how="left")


def features_with_history(features: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """The model's features that replayed games with results carry (what it could learn from).

    A feature with no value in any such game (e.g. player features before any play-by-play is
    loaded) is missing live and in history alike: not a live gap, so not reported as one.
    """
    played = features[features["home_score"].notna()]
    return [n for n in names if n in played.columns and played[n].notna().any()]


def missing_by_game(inputs: pd.DataFrame, features: Sequence[str]) -> dict[int, tuple[str, ...]]:
    """{game_id: the model's features that are missing (NaN or absent) for that game}.

    A side whose starter is not known (`<side>_sp_known` is 0: no listed starter linked to a
    player, e.g. live games before probable pitchers are linked) has its starter features at the
    league's prior rather than NaN; it is named `<side>_listed_starter`, so it is reported too.
    """
    out: dict[int, tuple[str, ...]] = {}
    for row in inputs.to_dict("records"):
        missing = [f for f in features if f not in row or row[f] is None or _isnan(row[f])]
        for side in ("home", "away"):
            known = f"{side}_sp_known"
            if known in features and known not in missing and row.get(known) == 0:
                missing.append(f"{side}_listed_starter")
        out[int(row["game_id"])] = tuple(missing)
    return out


def choose_side(p_close_pred: float, p_market_home: float) -> tuple[str, float]:
    """(side, edge) exactly as the backtest's `_pick_sides`: home when its edge is at least the
    away side's; the edge is the side's predicted probability minus the market's."""
    edge_home = p_close_pred - p_market_home
    edge_away = (1.0 - p_close_pred) - (1.0 - p_market_home)
    return ("home", edge_home) if edge_home >= edge_away else ("away", edge_away)


def decide(
    games: pd.DataFrame,
    lines: GameLines,
    scores: dict[int, float],
    missing: dict[int, tuple[str, ...]],
    params: OpenerParams,
    *,
    model_version: str,
    strategy: str,
) -> tuple[list[GameDecision], list[Pick]]:
    """One decision per upcoming game (`upcoming_games` rows plus game_date and teams), by first
    pitch, and the picks to record, by game id.

    A game gets no pick when it is not scored (no opening line), has no fresh two-sided quote now
    (stale or one-sided books are excluded by the lines), its edge is not above the threshold, or
    no book quotes the side now.
    """
    now_consensus = lines.consensus[lines.consensus["phase"] == "now"].set_index("event_id")
    best = lines.best.set_index(["event_id", "side"])
    decisions: list[GameDecision] = []
    picks: list[Pick] = []
    for game in games.sort_values(["commence_time", "game_id"]).itertuples(index=False):
        gid, eid = int(game.game_id), str(game.event_id)
        lacking = missing.get(gid, ())
        base = {
            "game_id": gid,
            "event_id": eid,
            "game_date": game.game_date,
            "away_team": game.away_team,
            "home_team": game.home_team,
            "commence_time": pd.Timestamp(game.commence_time).to_pydatetime(),
            "missing_features": lacking,
        }
        p = scores.get(gid)
        consensus = now_consensus.loc[eid] if eid in now_consensus.index else None
        market = float(consensus["fair_home"]) if consensus is not None else None
        method = (
            f"{consensus['method']}/{consensus['devig_method']}" if consensus is not None else None
        )
        common = {**base, "p_close_pred": p, "consensus_home": market, "consensus_method": method}
        if p is None:
            why = "not scored: no opening line (the model's base margin)"
            decisions.append(GameDecision(**common, side=None, edge=None, outcome="not_scored",
                                          reason=why))  # fmt: skip
            continue
        if market is None:
            why = "no fresh two-sided quote now (stale, one-sided or impossible prices)"
            decisions.append(GameDecision(**common, side=None, edge=None,
                                          outcome="no_fresh_quote", reason=why))  # fmt: skip
            continue
        side, edge = choose_side(p, market)
        if params.threshold >= ABSTAIN:
            decisions.append(GameDecision(**common, side=side, edge=edge, outcome="abstain",
                                          reason="the chosen settings abstain"))  # fmt: skip
            continue
        if not edge > params.threshold:
            why = f"edge {edge:+.4f} not above threshold {params.threshold:g}"
            decisions.append(GameDecision(**common, side=side, edge=edge, outcome="no_edge",
                                          reason=why))  # fmt: skip
            continue
        if (eid, side) not in best.index:
            why = f"no book quotes {side} now"
            decisions.append(GameDecision(**common, side=side, edge=edge, outcome="no_price",
                                          reason=why))  # fmt: skip
            continue
        price = best.loc[(eid, side)]
        why = (
            f"predicted close {p:.4f} (home) vs consensus now {market:.4f} ({method}): "
            f"{side} edge {edge:+.4f} > {params.threshold:g}; best {price['book']} "
            f"{int(price['price_american']):+d}"
        )
        if lacking:
            why += f"; scored without {', '.join(lacking)} (missing live)"
        decisions.append(GameDecision(**common, side=side, edge=edge, outcome="pick", reason=why))
        picks.append(
            Pick(
                game_id=gid,
                side=side,
                book=str(price["book"]),
                price_american=int(price["price_american"]),
                quoted_at=pd.Timestamp(price["last_update"]).to_pydatetime(),
                p_home=float(p),
                p_away=1.0 - float(p),
                consensus_home=market,
                consensus_method=str(method),
                model_version=model_version,
                strategy_version=strategy,
                reason=why,
            )
        )
    # The ledger gives picks the day's room in this order, as the backtest does (game id).
    return decisions, sorted(picks, key=lambda pick: pick.game_id)


def missing_counts(missing: dict[int, tuple[str, ...]], game_ids: Sequence[int]) -> dict[str, int]:
    """How many of `game_ids` lack each feature (only features some game lacks)."""
    counts: dict[str, int] = {}
    for gid in game_ids:
        for name in missing.get(gid, ()):
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def _isnan(value: object) -> bool:
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
