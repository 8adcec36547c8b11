"""Leak-free player features: starting pitchers, bullpens and lineups, from earlier dates only.

The pattern is build.py's: games are featurised one date at a time from the state left by all
earlier dates, and only then are that date's pitcher lines and plate appearances applied. So a
game's features never depend on its own events, on another game of the same date (doubleheaders
included) or on anything later.

Rates are per batter faced (per plate appearance for hitters) and are shrunk toward a league mean
that is itself rolled forward from earlier dates: rate = (sum + prior_n * league) / (n + prior_n).
Recent form is weighted exponentially by batters faced, so a pitcher's last ~10 starts dominate
and his career before that still counts a little (which matters in April).

- K-BB%: (strikeouts - walks incl. intentional) / batters faced.
- FIP here is per batter faced: (13 HR + 3 (BB + HBP) - 2 K) / BF, without the league constant
  (a constant cancels in comparisons; multiply by ~38 BF per 9 innings for an ERA-like scale).
- ER: earned runs per batter faced (runs allowed where the file has no earned runs).
- wOBA-like: linear weights per plate appearance (BB .69, HBP .72, 1B .88, 2B 1.25, 3B 1.58,
  HR 2.03; outs, strikeouts, reached-on-error and fielder's choices 0); intentional walks and
  catcher's interference are left out of both sides of the ratio, as wOBA does.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from bullpen.features.player_ratings import (
    BATTER_PRIOR_PA,
    BATTER_SCALE_PA,
    BF,
    LEAGUE_SCALE_BF,
    LEAGUE_SCALE_STARTS,
    LINEUP_GAMES,
    NOT_IN_WOBA,
    PITCHER_SCALE_BF,
    TEAM_HAND_SCALE_PA,
    TEAM_PRIOR_PA,
    WOBA_WEIGHTS,
    Bullpen,
    League,
    Pitcher,
    day_numbers,
    decay_add,
    shrunk,
    starter_values,
)

OPEN, GAME = "open", "game"

_SIDES = ("home", "away")
_SP_OPEN = (
    "sp_known",
    "sp_kbb",
    "sp_fip",
    "sp_er",
    "sp_bf",
    "sp_career_starts",
    "sp_rest",
    "sp_depth",
)
_BP_OPEN = ("bp_kbb", "bp_fip", "bp_pitches_1d", "bp_pitches_3d")
_TEAM_OPEN = ("lu_woba", "lu_woba_vs_hand")
_PER_SIDE_GAME = ("lineup_woba", "act_sp_kbb", "act_sp_fip", "sp_scratch")
_DIFF_OPEN = (
    "sp_kbb", "sp_fip", "sp_er", "bp_kbb", "bp_fip", "bp_pitches_3d", "lu_woba", "lu_woba_vs_hand",
)  # fmt: skip
_DIFF_GAME = ("lineup_woba", "act_sp_kbb", "act_sp_fip")

PLAYER_FEATURES: dict[str, str] = {
    **{f"{s}_{n}": OPEN for s in _SIDES for n in (*_SP_OPEN, *_BP_OPEN, *_TEAM_OPEN)},
    **{f"{n}_diff": OPEN for n in _DIFF_OPEN},
    **{f"{s}_{n}": GAME for s in _SIDES for n in _PER_SIDE_GAME},
    **{f"{n}_diff": GAME for n in _DIFF_GAME},
}
OPEN_PLAYER_FEATURES = tuple(k for k, v in PLAYER_FEATURES.items() if v == OPEN)
GAME_PLAYER_FEATURES = tuple(k for k, v in PLAYER_FEATURES.items() if v == GAME)


def _game_keys(pitcher_games: pd.DataFrame) -> dict[tuple[int, str, int], str]:
    """(day, home team, game number) -> Retrosheet game key, from the home side's pitcher lines."""
    home = pitcher_games.loc[pitcher_games["side"] == 1, ["game_key", "game_date", "team"]]
    home = home.drop_duplicates("game_key")
    days = day_numbers(home["game_date"])
    numbers = home["game_key"].str[-1].astype(int)
    index = zip(days.tolist(), home["team"], numbers.tolist(), strict=True)
    return dict(zip(index, home["game_key"], strict=True))


def _batting_lines(
    plate_appearances: pd.DataFrame, pitcher_games: pd.DataFrame, throws: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Day, wOBA weight sum and plate appearances per game and batter, per game and batting team,
    and per game, batting team and the pitcher's throwing hand (empty without `throws`)."""
    pa = plate_appearances[
        ["game_key", "game_date", "batting_side", "batter", "pitcher", "outcome"]
    ]
    pa = pa[~pa["outcome"].isin(NOT_IN_WOBA)]
    weights = pa["outcome"].map(WOBA_WEIGHTS).fillna(0.0).to_numpy(float)
    pa = pa.assign(w=weights, n=1.0)
    per_batter = pa.groupby(["game_key", "batter"], sort=False)[["w", "n"]].sum()
    per_team = pa.groupby(["game_key", "batting_side"], sort=False)[["w", "n"]].sum()
    per_hand = (
        pa.assign(hand=pa["pitcher"].map(throws))
        .dropna(subset=["hand"])
        .groupby(["game_key", "batting_side", "hand"], sort=False)[["w", "n"]]
        .sum()
    )
    # One date per game (the game's first plate appearance), converted once per game.
    first = pa.drop_duplicates("game_key")
    day_of = pd.Series(day_numbers(first["game_date"]), index=first["game_key"].to_numpy())
    teams = pitcher_games.drop_duplicates(["game_key", "side"]).set_index(["game_key", "side"])
    per_team["team"] = teams["team"].reindex(per_team.index).to_numpy()
    per_hand["team"] = teams["team"].reindex(per_hand.index.droplevel("hand")).to_numpy()
    per_batter = per_batter.reset_index()
    per_team = per_team.reset_index().dropna(subset=["team"])
    per_hand = per_hand.reset_index().dropna(subset=["team"])
    for frame in (per_batter, per_team, per_hand):
        frame["day"] = frame["game_key"].map(day_of).to_numpy(np.int64)
    return per_batter, per_team, per_hand


def _throwing_hands(rosters: pd.DataFrame | None) -> dict[str, str]:
    """Player -> "L" / "R" from the rosters (a pitcher's latest listed hand; "B" is left out)."""
    if rosters is None or rosters.empty:
        return {}
    latest = rosters.sort_values("season").drop_duplicates("player", keep="last")
    latest = latest[latest["throws"].isin(["L", "R"])]
    return dict(zip(latest["player"], latest["throws"], strict=True))


def _lineup_players(lineups: pd.DataFrame) -> dict[tuple[str, int], list[str]]:
    out: dict[tuple[str, int], list[str]] = {}
    for key, side, player in lineups[["game_key", "side", "player"]].itertuples(
        index=False, name=None
    ):
        out.setdefault((key, int(side)), []).append(player)
    return out


def _id(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def build_player_features(
    games: pd.DataFrame,
    pitcher_games: pd.DataFrame,
    plate_appearances: pd.DataFrame,
    lineups: pd.DataFrame,
    rosters: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per game (indexed like `games`), one column per PLAYER_FEATURES key.

    `games` needs game_date, season, home_team, away_team, game_number, home_listed_starter,
    away_listed_starter (Retrosheet ids or None, see bullpen.players.linking), home_starter_id and
    away_starter_id (who started; game-time columns only). The event frames are those of
    collect.history.events.rows.to_frames (or the events.load loaders). Every value for a game
    on date d comes from events of dates before d only. `rosters` (the rosters table) gives
    throwing hands for lu_woba_vs_hand (the team's batting against the hand of the opposing
    listed starter); without it those columns are NaN.
    """
    league = League()
    pitchers: dict[str, Pitcher] = {}
    bullpens: dict[str, Bullpen] = {}
    team_batting: dict[str, deque[tuple[float, float]]] = {}
    team_vs_hand: dict[tuple[str, str], list[float]] = {}
    league_vs_hand: dict[str, list[float]] = {"L": [0.0, 0.0], "R": [0.0, 0.0]}
    throws = _throwing_hands(rosters)
    batters: dict[str, list[float]] = {}

    # Pitcher lines as plain lists, sorted by date then game (the order within a date only
    # matters for a pitcher who pitches twice that day, and then it is the game order).
    pg = pitcher_games.sort_values(["game_date", "game_key", "appearance_order"], kind="stable")
    er = pg["earned_runs"].astype(float).fillna(pg["runs_allowed"].astype(float))
    pg_pitches = pg["pitches"].astype(float)
    pg_rows = list(
        zip(
            day_numbers(pg["game_date"]).tolist(),
            pg["season"].astype(int).tolist(),
            pg["pitcher"].tolist(),
            pg["team"].tolist(),
            pg["is_starter"].astype(bool).tolist(),
            pg["outs_recorded"].astype(float).tolist(),
            pg_pitches.where(pg_pitches.notna(), -1.0).tolist(),
            pg["strikeouts"].astype(float).tolist(),
            pg["walks"].astype(float).tolist(),
            pg["hbp"].astype(float).tolist(),
            pg["home_runs"].astype(float).tolist(),
            er.tolist(),
            pg["batters_faced"].astype(float).tolist(),
            strict=True,
        )
    )
    per_batter, per_team, per_hand = _batting_lines(plate_appearances, pitcher_games, throws)
    per_batter = per_batter.sort_values(["day", "game_key"], kind="stable")
    per_team = per_team.sort_values(["day", "game_key"], kind="stable")
    per_hand = per_hand.sort_values(["day", "game_key"], kind="stable")
    hand_rows = list(
        zip(
            per_hand["day"].tolist(),
            per_hand["team"].tolist(),
            per_hand["hand"].tolist(),
            per_hand["w"].tolist(),
            per_hand["n"].tolist(),
            strict=True,
        )
    )
    bat_rows = list(
        zip(
            per_batter["day"].tolist(),
            per_batter["batter"].tolist(),
            per_batter["w"].tolist(),
            per_batter["n"].tolist(),
            strict=True,
        )
    )
    team_rows = list(
        zip(
            per_team["day"].tolist(),
            per_team["team"].tolist(),
            per_team["w"].tolist(),
            per_team["n"].tolist(),
            strict=True,
        )
    )
    keys = _game_keys(pitcher_games)
    lineup_of = _lineup_players(lineups)

    game_days = day_numbers(games["game_date"])
    order = np.argsort(game_days, kind="stable")
    cols = ["season", "home_team", "away_team", "game_number"]
    cols += ["home_listed_starter", "away_listed_starter", "home_starter_id", "away_starter_id"]
    values = games[cols].to_numpy(object)
    n_games = len(games)
    names = list(PLAYER_FEATURES)
    col = {name: i for i, name in enumerate(names)}
    out = np.full((n_games, len(names)), np.nan)

    def batter_rate(player: str, lg_woba: float) -> float:
        s = batters.get(player)
        if s is None:
            return lg_woba
        return shrunk(s[0], s[1], lg_woba, BATTER_PRIOR_PA)

    def featurise(row: int, day: int) -> None:
        season, home, away, number, home_listed, away_listed, home_actual, away_actual = values[row]
        season = int(season)
        lg_woba = league.woba_rate()
        key = keys.get((day, home, int(number) if number == number else 0))
        for side_name, side, team, listed, actual, opponent_listed in (
            ("home", 1, home, _id(home_listed), _id(home_actual), _id(away_listed)),
            ("away", 0, away, _id(away_listed), _id(away_actual), _id(home_listed)),
        ):
            sp = starter_values(
                bool(listed), pitchers.get(listed) if listed else None, league, day, season
            )
            for name, v in zip(_SP_OPEN, sp, strict=True):
                out[row, col[f"{side_name}_{name}"]] = v
            bullpen = bullpens.get(team)
            bp = (
                bullpen.values(league, day)
                if bullpen is not None
                else [league.rate("kbb", True), league.rate("fip", True), 0.0, 0.0]
            )
            for name, v in zip(_BP_OPEN, bp, strict=True):
                out[row, col[f"{side_name}_{name}"]] = v
            recent = team_batting.get(team)
            w = sum(x for x, _ in recent) if recent else 0.0
            n = sum(y for _, y in recent) if recent else 0.0
            lu_woba = shrunk(w, n, lg_woba, TEAM_PRIOR_PA)
            out[row, col[f"{side_name}_lu_woba"]] = lu_woba
            if throws:
                hand = throws.get(opponent_listed) if opponent_listed else None
                vs = team_vs_hand.get((team, hand)) if hand else None
                lg_hand = league_vs_hand.get(hand) if hand else None
                if hand is None or lg_hand is None or lg_hand[1] <= 0:
                    value = lu_woba  # hand unknown: the team's form against anyone
                else:
                    lg_rate = lg_hand[0] / lg_hand[1]
                    value = shrunk(vs[0], vs[1], lg_rate, TEAM_PRIOR_PA) if vs else lg_rate
                out[row, col[f"{side_name}_lu_woba_vs_hand"]] = value
            # Game time: today's lineup and who actually started.
            players = lineup_of.get((key, side)) if key is not None else None
            out[row, col[f"{side_name}_lineup_woba"]] = (
                sum(batter_rate(p, lg_woba) for p in players) / len(players) if players else np.nan
            )
            act = starter_values(
                bool(actual), pitchers.get(actual) if actual else None, league, day, season
            )
            out[row, col[f"{side_name}_act_sp_kbb"]] = act[1] if actual else np.nan
            out[row, col[f"{side_name}_act_sp_fip"]] = act[2] if actual else np.nan
            out[row, col[f"{side_name}_sp_scratch"]] = (
                float(listed != actual) if listed and actual else 0.0
            )

    def apply_pitcher_lines(rows: list[tuple]) -> None:
        day_all = [0.0] * 6
        day_relief = [0.0] * 6
        day_outs = [0.0, 0.0]
        day_pitches = [0.0, 0.0]
        relief_by_team: dict[str, list[float]] = {}  # K, BB, HBP, HR, ER, BF, pitches
        ppbf = league.pitches_per_bf()
        for day, season, pitcher, team, starter, outs, pitches, k, bb, hbp, hr, er_, bf in rows:
            line = (k, bb, hbp, hr, er_, bf)
            p = pitchers.get(pitcher)
            if p is None:
                p = pitchers[pitcher] = Pitcher()
            if bf > 0:
                decay_add(p.sums, line, PITCHER_SCALE_BF, bf)
            p.last_day = day
            if p.season != season:
                p.season, p.starts = season, 0
            for i in range(6):
                day_all[i] += line[i]
            if pitches >= 0:
                day_pitches[0] += pitches
                day_pitches[1] += bf
            if starter:
                p.starts += 1
                p.depth.append(outs)
                day_outs[0] += outs
                day_outs[1] += 1.0
            else:
                for i in range(6):
                    day_relief[i] += line[i]
                sums = relief_by_team.setdefault(team, [0.0] * 7)
                for i in range(6):
                    sums[i] += line[i]
                # A line without a pitch count counts its batters at the league's pitches per BF.
                sums[6] += pitches if pitches >= 0 else bf * ppbf
        for team, sums in relief_by_team.items():
            bullpens.setdefault(team, Bullpen()).add(rows[0][0], sums[:6], sums[6])
        decay_add(league.all, day_all, LEAGUE_SCALE_BF, day_all[BF])
        decay_add(league.relief, day_relief, LEAGUE_SCALE_BF / 3, day_relief[BF])
        decay_add(league.outs, day_outs, LEAGUE_SCALE_STARTS, day_outs[1])
        decay_add(league.pitches, day_pitches, LEAGUE_SCALE_BF, day_pitches[1])

    def apply_batting(b_rows: list[tuple], t_rows: list[tuple], h_rows: list[tuple]) -> None:
        day_w = day_n = 0.0
        for _, batter, w, n in b_rows:
            s = batters.get(batter)
            if s is None:
                s = batters[batter] = [0.0, 0.0]
            decay_add(s, (w, n), BATTER_SCALE_PA, n)
            day_w += w
            day_n += n
        for _, team, w, n in t_rows:
            team_batting.setdefault(team, deque(maxlen=LINEUP_GAMES)).append((w, n))
        decay_add(league.woba, (day_w, day_n), LEAGUE_SCALE_BF, day_n)
        day_hand = {"L": [0.0, 0.0], "R": [0.0, 0.0]}
        for _, team, hand, w, n in h_rows:
            sums = team_vs_hand.setdefault((team, hand), [0.0, 0.0])
            decay_add(sums, (w, n), TEAM_HAND_SCALE_PA, n)
            day_hand[hand][0] += w
            day_hand[hand][1] += n
        for hand, (w, n) in day_hand.items():
            decay_add(league_vs_hand[hand], (w, n), LEAGUE_SCALE_BF / 2, n)

    all_days = sorted(
        set(game_days.tolist())
        | {r[0] for r in pg_rows}
        | {r[0] for r in bat_rows}
        | {r[0] for r in team_rows}
    )
    gi = pi = bi = ti = hi = 0
    for day in all_days:
        # 1. Every game of this date from the state of earlier dates ...
        while gi < n_games and game_days[order[gi]] == day:
            featurise(int(order[gi]), day)
            gi += 1
        # 2. ... and only then this date's events.
        start = pi
        while pi < len(pg_rows) and pg_rows[pi][0] == day:
            pi += 1
        if pi > start:
            apply_pitcher_lines(pg_rows[start:pi])
        b_start, t_start, h_start = bi, ti, hi
        while bi < len(bat_rows) and bat_rows[bi][0] == day:
            bi += 1
        while ti < len(team_rows) and team_rows[ti][0] == day:
            ti += 1
        while hi < len(hand_rows) and hand_rows[hi][0] == day:
            hi += 1
        apply_batting(bat_rows[b_start:bi], team_rows[t_start:ti], hand_rows[h_start:hi])

    frame = pd.DataFrame(out, columns=names, index=games.index)
    for name in _DIFF_OPEN + _DIFF_GAME:
        frame[f"{name}_diff"] = frame[f"home_{name}"] - frame[f"away_{name}"]
    return frame[names]
