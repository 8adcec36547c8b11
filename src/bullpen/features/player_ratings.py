"""Player ratings that roll forward date by date: league, pitcher and bullpen state.

features/players.py turns this state into features; the rates, priors and decay scales that
define what a rating means live here. See players.py for the definitions of K-BB%, FIP per
batter faced, ER and the wOBA-like weights.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

import numpy as np
import pandas as pd

PITCHER_SCALE_BF = 250.0  # a batter faced weighs 1/e after this many more BF (~10 starts)
LEAGUE_SCALE_BF = 90_000.0  # about half a season of batters faced
BATTER_SCALE_PA = 250.0
LEAGUE_SCALE_STARTS = 1_500.0
SP_PRIOR_BF = {"kbb": 150.0, "fip": 300.0, "er": 500.0}
BP_PRIOR_BF = {"kbb": 150.0, "fip": 300.0}
TEAM_PRIOR_PA = 300.0  # pseudo plate appearances of league average in a team's lineup rate
TEAM_HAND_SCALE_PA = 600.0  # a team's plate appearances against one pitching hand
BATTER_PRIOR_PA = 200.0
DEPTH_PRIOR_STARTS = 3.0
DEPTH_STARTS = 10  # depth is the mean outs over the last this many starts
LINEUP_GAMES = 20  # team batting window, in team-games
BULLPEN_DAYS = 30
MAX_REST_DAYS = 30  # rest is capped here; a pitcher never seen before gets this value

# Fallbacks before any league data exists (the first date of the data); MLB 2009-2021 levels.
FALLBACK = {"kbb": 0.11, "fip": 0.23, "er": 0.105, "woba": 0.315, "outs": 16.5, "ppbf": 3.85}

WOBA_WEIGHTS = {"BB": 0.69, "HBP": 0.72, "1B": 0.88, "2B": 1.25, "3B": 1.58, "HR": 2.03}
NOT_IN_WOBA = ("IBB", "CI")

# Pitcher line slots: strikeouts, walks, hit batters, home runs, earned runs, batters faced.
_K, _BB, _HBP, _HR, _ER, BF = range(6)


def day_numbers(values: Iterable[object]) -> np.ndarray:
    return pd.to_datetime(pd.Series(list(values))).to_numpy("datetime64[D]").astype(np.int64)


def _kbb(s: list[float]) -> float:
    return s[_K] - s[_BB]


def _fip(s: list[float]) -> float:
    return 13.0 * s[_HR] + 3.0 * (s[_BB] + s[_HBP]) - 2.0 * s[_K]


def shrunk(total: float, n: float, league: float, prior: float) -> float:
    return (total + prior * league) / (n + prior)


class League:
    """Exponentially decayed league totals, advanced once per date with that date's lines."""

    def __init__(self) -> None:
        self.all = [0.0] * 6  # every pitcher line
        self.relief = [0.0] * 6
        self.woba = [0.0, 0.0]  # weight sum, plate appearances
        self.outs = [0.0, 0.0]  # starters' outs, starts
        self.pitches = [0.0, 0.0]  # pitches, batters faced (lines with a pitch count)

    def rate(self, kind: str, relief: bool = False) -> float:
        s = self.relief if relief else self.all
        if s[BF] <= 0:
            return FALLBACK[kind]
        if kind == "kbb":
            return _kbb(s) / s[BF]
        if kind == "fip":
            return _fip(s) / s[BF]
        return s[_ER] / s[BF]

    def woba_rate(self) -> float:
        return self.woba[0] / self.woba[1] if self.woba[1] > 0 else FALLBACK["woba"]

    def outs_per_start(self) -> float:
        return self.outs[0] / self.outs[1] if self.outs[1] > 0 else FALLBACK["outs"]

    def pitches_per_bf(self) -> float:
        return self.pitches[0] / self.pitches[1] if self.pitches[1] > 0 else FALLBACK["ppbf"]


def decay_add(state: list[float], line: Iterable[float], scale: float, size: float) -> None:
    factor = math.exp(-size / scale)
    for i, x in enumerate(line):
        state[i] = state[i] * factor + x


class Pitcher:
    __slots__ = ("depth", "last_day", "season", "starts", "sums")

    def __init__(self) -> None:
        self.sums = [0.0] * 6
        self.last_day: int | None = None
        self.season = -1
        self.starts = 0  # starts this season
        self.depth: deque[float] = deque(maxlen=DEPTH_STARTS)


def starter_values(
    known: bool, p: Pitcher | None, league: League, day: int, season: int
) -> list[float]:
    """sp_known, sp_kbb, sp_fip, sp_er, sp_bf, sp_career_starts, sp_rest, sp_depth.

    sp_known says the starter is identified; one without earlier lines (a debut) has sp_bf 0,
    league rates and the rest cap.
    """
    lg_kbb, lg_fip, lg_er = league.rate("kbb"), league.rate("fip"), league.rate("er")
    lg_outs = league.outs_per_start()
    if p is None:
        return [float(known), lg_kbb, lg_fip, lg_er, 0.0, 0.0, float(MAX_REST_DAYS), lg_outs]
    s, bf = p.sums, p.sums[BF]
    rest = MAX_REST_DAYS if p.last_day is None else min(day - p.last_day, MAX_REST_DAYS)
    return [
        1.0,
        shrunk(_kbb(s), bf, lg_kbb, SP_PRIOR_BF["kbb"]),
        shrunk(_fip(s), bf, lg_fip, SP_PRIOR_BF["fip"]),
        shrunk(s[_ER], bf, lg_er, SP_PRIOR_BF["er"]),
        bf,
        float(p.starts if p.season == season else 0),
        float(rest),
        shrunk(sum(p.depth), len(p.depth), lg_outs, DEPTH_PRIOR_STARTS),
    ]


class Bullpen:
    """A team's relievers: one entry per date (day, K/BB/HBP/HR/ER/BF totals, pitches), and the
    running totals of the entries kept (the last BULLPEN_DAYS days)."""

    __slots__ = ("days", "sums")

    def __init__(self) -> None:
        self.days: deque[tuple[int, list[float], float]] = deque()
        self.sums = [0.0] * 6

    def add(self, day: int, line: list[float], pitches: float) -> None:
        self.days.append((day, line, pitches))
        for i in range(6):
            self.sums[i] += line[i]

    def values(self, league: League, day: int) -> list[float]:
        while self.days and self.days[0][0] < day - BULLPEN_DAYS:
            _, line, _ = self.days.popleft()
            for i in range(6):
                self.sums[i] -= line[i]
        if not self.days:
            self.sums = [0.0] * 6  # no rounding residue once the window is empty
        pitches_1d = pitches_3d = 0.0
        for d, _, pitches in reversed(self.days):
            if d < day - 3:
                break
            pitches_3d += pitches
            if d == day - 1:
                pitches_1d += pitches
        sums = self.sums
        bf = sums[BF]
        return [
            shrunk(_kbb(sums), bf, league.rate("kbb", True), BP_PRIOR_BF["kbb"]),
            shrunk(_fip(sums), bf, league.rate("fip", True), BP_PRIOR_BF["fip"]),
            pitches_1d,
            pitches_3d,
        ]
