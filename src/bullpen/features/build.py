"""Leak-free pre-game features: for a game on date d only games finished before d are used."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from bullpen.features.odds import devig_two_way

ELO_START = 1500.0
ELO_K = 6.0
ELO_HOME_ADVANTAGE = 24.0  # Elo points; MLB home teams win ~53-54 %
ELO_SEASON_CARRY = 2 / 3  # share of last season's rating kept; the rest regresses to the mean
RUNS_PRIOR = 4.5  # runs per team-game, prior for shrinking small samples
SHRINK_GAMES = 10  # pseudo-games of prior in team rates
SHRINK_STARTS = 2  # pseudo-starts of prior in starter rates
MAX_REST_DAYS = 7
RECENT_GAMES = 10
RECENT_STARTS = 5

TEAM_FEATURES = (
    "win_pct", "rd_pg", "rs_pg", "ra_pg", "l10_win_pct", "l10_rd_pg", "rest_days",
    "games_played", "sp_left", "sp_ra5", "sp_win5", "sp_starts",
)  # fmt: skip
MARKET_OPEN_FEATURES = ("mkt_open_home_prob", "mkt_open_total", "mkt_open_over_prob")
MONEYLINE_FEATURES: tuple[str, ...] = (
    "elo_diff", "elo_prob", "home_venue_win_pct", "away_venue_win_pct", "park_runs_pg",
    *(f"{side}_{name}" for side in ("home", "away") for name in TEAM_FEATURES),
    *MARKET_OPEN_FEATURES,
)  # fmt: skip
TOTALS_FEATURES: tuple[str, ...] = (*MONEYLINE_FEATURES, "close_total", "total_move")


@dataclass(slots=True)
class _TeamState:
    elo: float = ELO_START
    season: int = -1
    games: int = 0
    wins: int = 0
    runs_for: int = 0
    runs_against: int = 0
    home_games: int = 0
    home_wins: int = 0
    away_games: int = 0
    away_wins: int = 0
    home_runs_total: int = 0  # runs by both teams in this team's home games (park proxy)
    park_prior: float = 2 * RUNS_PRIOR
    last_date: date | None = None
    recent: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=RECENT_GAMES))

    def start_season(self, season: int) -> None:
        if self.season != -1:
            self.elo = ELO_START + ELO_SEASON_CARRY * (self.elo - ELO_START)
            if self.home_games:
                self.park_prior = _shrink(self.home_runs_total, self.home_games, 2 * RUNS_PRIOR, 20)
        self.season = season
        self.games = self.wins = self.runs_for = self.runs_against = 0
        self.home_games = self.home_wins = self.away_games = self.away_wins = 0
        self.home_runs_total = 0
        self.last_date = None
        self.recent.clear()


def _shrink(total: float, count: int, prior: float, weight: int) -> float:
    return (total + prior * weight) / (count + weight)


def _elo_prob(diff: float) -> float:
    return 1.0 / (1.0 + 10.0 ** (-diff / 400.0))


def _hand(value: object) -> float:
    if value == "L":
        return 1.0
    if value == "R":
        return 0.0
    return math.nan


def _team_features(
    team: _TeamState, pitcher: deque[tuple[int, int]] | None, hand: object, day: date
) -> list[float]:
    recent = list(team.recent)
    starts = list(pitcher) if pitcher else []
    rest = MAX_REST_DAYS if team.last_date is None else min((day - team.last_date).days, 7)
    return [
        _shrink(team.wins, team.games, 0.5, SHRINK_GAMES),
        (team.runs_for - team.runs_against) / (team.games + SHRINK_GAMES),
        _shrink(team.runs_for, team.games, RUNS_PRIOR, SHRINK_GAMES),
        _shrink(team.runs_against, team.games, RUNS_PRIOR, SHRINK_GAMES),
        sum(w for w, _ in recent) / len(recent) if recent else 0.5,
        sum(rd for _, rd in recent) / len(recent) if recent else 0.0,
        float(rest),
        float(team.games),
        _hand(hand),
        _shrink(sum(ra for ra, _ in starts), len(starts), RUNS_PRIOR, SHRINK_STARTS),
        _shrink(sum(w for _, w in starts), len(starts), 0.5, SHRINK_STARTS),
        float(len(starts)),
    ]


def build_team_features(games: pd.DataFrame) -> pd.DataFrame:
    """Team, starter and Elo features for every game, from strictly earlier dates only.

    Games are processed one date at a time: all games of date d are featurised from the state
    left by dates < d, and only then does d's results update the state. So a game's features do
    not depend on its own result, on same-day games (doubleheaders included), or on anything later.
    """
    ordered = games.sort_values(["game_date", "game_number", "home_team"], kind="stable")
    teams: dict[str, _TeamState] = {}
    pitchers: dict[str, deque[tuple[int, int]]] = {}
    rows: dict[int, list[float]] = {}

    def team_state(team_id: str, season: int) -> _TeamState:
        state = teams.setdefault(team_id, _TeamState())
        if state.season != season:
            state.start_season(season)
        return state

    columns = [
        "game_date", "season", "home_team", "away_team", "neutral_site", "home_pitcher",
        "away_pitcher", "home_pitcher_hand", "away_pitcher_hand", "home_score", "away_score",
    ]  # fmt: skip
    records = list(ordered[columns].itertuples(index=True, name=None))
    start = 0
    while start < len(records):
        day = records[start][1]
        end = start
        while end < len(records) and records[end][1] == day:
            end += 1
        todays = records[start:end]
        for idx, _, season, home_id, away_id, neutral, hp, ap, hh, ah, _hs, _as in todays:
            home, away = team_state(home_id, season), team_state(away_id, season)
            diff = home.elo - away.elo + (0.0 if neutral else ELO_HOME_ADVANTAGE)
            rows[idx] = [
                diff,
                _elo_prob(diff),
                _shrink(home.home_wins, home.home_games, 0.54, SHRINK_GAMES),
                _shrink(away.away_wins, away.away_games, 0.46, SHRINK_GAMES),
                _shrink(home.home_runs_total, home.home_games, home.park_prior, 20),
                *_team_features(home, pitchers.get(hp) if hp else None, hh, day),
                *_team_features(away, pitchers.get(ap) if ap else None, ah, day),
            ]
        for _, _, _, home_id, away_id, neutral, hp, ap, _, _, hs, as_ in todays:
            # No result (NaN) or a tie (suspended/called game): no winner to learn from.
            if not (hs == hs and as_ == as_) or hs == as_:
                continue
            _update(teams[home_id], teams[away_id], int(hs), int(as_), neutral, day)
            for pitcher_name, allowed, won in ((hp, as_, hs > as_), (ap, hs, as_ > hs)):
                if pitcher_name:
                    pitchers.setdefault(pitcher_name, deque(maxlen=RECENT_STARTS)).append(
                        (int(allowed), int(won))
                    )
        start = end

    names = [
        "elo_diff", "elo_prob", "home_venue_win_pct", "away_venue_win_pct", "park_runs_pg",
        *(f"{side}_{name}" for side in ("home", "away") for name in TEAM_FEATURES),
    ]  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index", columns=names).reindex(games.index)


def _update(
    home: _TeamState, away: _TeamState, hs: int, as_: int, neutral: bool, day: date
) -> None:
    diff = home.elo - away.elo + (0.0 if neutral else ELO_HOME_ADVANTAGE)
    home_won = hs > as_
    margin = math.log(abs(hs - as_) + 1.0)
    delta = ELO_K * margin * ((1.0 if home_won else 0.0) - _elo_prob(diff))
    home.elo += delta
    away.elo -= delta
    for team, runs_for, runs_against, won in (
        (home, hs, as_, home_won),
        (away, as_, hs, not home_won),
    ):
        team.games += 1
        team.wins += int(won)
        team.runs_for += runs_for
        team.runs_against += runs_against
        team.recent.append((int(won), runs_for - runs_against))
        team.last_date = day
    home.home_games += 1
    home.home_wins += int(home_won)
    home.home_runs_total += hs + as_
    away.away_games += 1
    away.away_wins += int(not home_won)


def add_market_probabilities(games: pd.DataFrame, method: str) -> pd.DataFrame:
    """Vig-free market probabilities (home win, over) at open and close, by `method`."""
    out = games.copy()
    for phase in ("open", "close"):
        out[f"p_{phase}_home"] = devig_two_way(
            out[f"home_{phase}_ml"].to_numpy(float), out[f"away_{phase}_ml"].to_numpy(float), method
        )
        out[f"p_{phase}_over"] = devig_two_way(
            out[f"{phase}_over_price"].to_numpy(float),
            out[f"{phase}_under_price"].to_numpy(float),
            method,
        )
    return out


def add_labels(games: pd.DataFrame) -> pd.DataFrame:
    """home_win (1/0; NaN for a tie or no result), total_runs and over_close (1 over, 0 under,
    NaN for a push or no line)."""
    out = games.copy()
    decided = out["home_score"].notna() & (out["home_score"] != out["away_score"])
    out["home_win"] = np.where(
        decided, (out["home_score"] > out["away_score"]).astype(float), np.nan
    )
    out["total_runs"] = out["home_score"] + out["away_score"]
    over = np.where(out["total_runs"] > out["close_total"], 1.0, 0.0)
    known = out["total_runs"].notna() & out["close_total"].notna()
    out["over_close"] = np.where(known & (out["total_runs"] != out["close_total"]), over, np.nan)
    return out


def build_feature_frame(games: pd.DataFrame, devig_method: str = "shin") -> pd.DataFrame:
    """Games + market probabilities + leak-free features + labels, one row per game."""
    frame = add_market_probabilities(games, devig_method)
    frame = frame.join(build_team_features(frame))
    frame["mkt_open_home_prob"] = frame["p_open_home"]
    frame["mkt_open_total"] = frame["open_total"]
    frame["mkt_open_over_prob"] = frame["p_open_over"]
    frame["total_move"] = frame["close_total"] - frame["open_total"]
    return add_labels(frame)
