"""The forward record: the ledger's picks read back with their games, judged with the backtest's
figures (bullpen.betting.metrics): bets, mean CLV (SE), EV at close, ROI with a bootstrap
interval, bankroll and drawdown, and the curves of the HTML report.

One strategy version is one bankroll (bullpen.betting.ledger): its starting bankroll is the
bankroll its first pick was sized on (nothing was settled before it), and the bankroll after each
settled pick is that plus the settled profit in settlement order.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import psycopg

from bullpen import report
from bullpen.betting.ledger import load_bets
from bullpen.betting.metrics import BetSummary, mean_and_se, summarise_bets

_GAMES = "SELECT game_id, game_date, away_team, home_team FROM games WHERE game_id = ANY(%s)"


def load_ledger(
    conn: psycopg.Connection, *, strategy_version: str | None = None, since: date | None = None
) -> pd.DataFrame:
    """Every pick (current state) with its game's date and teams, on games from `since` on."""
    bets = load_bets(conn, strategy_version)
    ids = [int(g) for g in bets["game_id"].unique()] if len(bets) else []
    games = pd.DataFrame(
        conn.execute(_GAMES, (ids,)).fetchall(),
        columns=["game_id", "game_date", "away_team", "home_team"],
    )
    out = bets.merge(games, on="game_id", how="left")
    if since is not None and len(out):
        out = out[out["game_date"] >= since]
    return out.reset_index(drop=True)


def newest_strategy(ledger: pd.DataFrame) -> str | None:
    """The strategy version of the most recently opened pick."""
    if ledger.empty:
        return None
    return str(ledger.sort_values(["opened_at", "bet_id"]).iloc[-1]["strategy_version"])


@dataclass(frozen=True)
class ForwardRecord:
    strategy_version: str
    starting_bankroll: float
    bankroll: float  # starting + settled profit
    n_open: int
    at_risk: float  # stake of open picks
    n_void: int
    n_with_close: int  # settled (not void) picks that have a closing consensus
    summary: BetSummary  # settled picks that ran (won, lost, push)
    settled: pd.DataFrame  # those picks with bankroll_after and cumulative CLV, in order

    def lines(self) -> list[str]:
        s = self.summary
        return [
            f"strategy {self.strategy_version}",
            f"bets settled {s.n} (void {self.n_void}), open {self.n_open}, "
            f"at risk {self.at_risk:.2f}",
            f"mean CLV {_pp(s.mean_clv)} pp (SE {_se(s.clv_se)}) over {self.n_with_close} "
            f"with a closing line",
            f"EV at close {_pct(s.ev_at_close)} (95% CI {_pct(s.ev_ci[0])} .. {_pct(s.ev_ci[1])})",
            f"staked {s.staked:.2f}, profit {s.profit:+.2f}, ROI {_pct(s.roi)} "
            f"(bootstrap 95% {_pct(s.roi_ci[0])} .. {_pct(s.roi_ci[1])})",
            f"bankroll {self.bankroll:.2f} (start {self.starting_bankroll:.2f}), "
            f"max drawdown {_pct(s.max_drawdown)}",
        ]


def forward_record(ledger: pd.DataFrame, strategy_version: str) -> ForwardRecord:
    """Figures of one strategy version's picks in `ledger` (from `load_ledger`)."""
    bets = ledger[ledger["strategy_version"] == strategy_version].sort_values("bet_id")
    if bets.empty:
        raise ValueError(f"no picks of strategy {strategy_version!r}")
    start = float(bets.iloc[0]["bankroll"])
    open_ = bets[bets["state"] == "open"]
    ran = bets[bets["state"].isin(["won", "lost", "push"])].copy()
    ran = ran.sort_values(["settled_at", "bet_id"], kind="stable")
    ran["bankroll_after"] = start + ran["profit"].cumsum()
    ran["clv_pp"] = ran["clv_pp"].astype(float)
    ran["ev_close"] = ran["ev_close"].astype(float)
    ran["cum_clv_pp"] = ran["clv_pp"].fillna(0.0).cumsum()
    summary = summarise_bets(ran, start)
    # CLV and EV only over picks with a closing line (a missing close is unknown, not zero).
    with_close = ran[ran["clv_pp"].notna()]
    clv, clv_se = mean_and_se(with_close["clv_pp"])
    ev, ev_se = mean_and_se(with_close["ev_close"])
    z = 1.959963984540054
    summary = replace(
        summary,
        mean_clv=clv,
        clv_se=clv_se,
        ev_at_close=ev,
        ev_se=ev_se,
        ev_ci=(ev - z * ev_se, ev + z * ev_se),
    )
    profit = float(bets.loc[bets["state"] != "open", "profit"].sum())
    return ForwardRecord(
        strategy_version=strategy_version,
        starting_bankroll=start,
        bankroll=start + profit,
        n_open=len(open_),
        at_risk=float(open_["stake"].sum()),
        n_void=int((bets["state"] == "void").sum()),
        n_with_close=len(with_close),
        summary=summary,
        settled=ran.reset_index(drop=True),
    )


def write_forward_report(path: Path, record: ForwardRecord, *, since: date | None) -> Path:
    """One self-contained HTML page (bullpen.report's page writer): the figures, the bankroll and
    cumulative-CLV curves by settled pick, and the picks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bankroll_png = _plot(
        record.settled["bankroll_after"],
        path.parent / "forward_bankroll.png",
        "bankroll",
        "Bankroll after each settled pick",
        baseline=record.starting_bankroll,
    )
    clv_png = _plot(
        record.settled["cum_clv_pp"] * 100,
        path.parent / "forward_clv.png",
        "cumulative CLV (pp)",
        "Closing-line value",
        baseline=0.0,
    )
    items = "".join(f"<li>{html.escape(line)}</li>" for line in record.lines())
    columns = ["game_date", "away_team", "home_team", "side", "book", "price_american", "stake",
               "state", "profit", "clv_pp", "ev_close"]  # fmt: skip
    table = record.settled[columns].to_html(index=False, float_format=lambda v: f"{v:.4f}")
    title = f"bullpen forward record: {record.strategy_version}"
    body = "\n".join(
        [
            f"<h1>{html.escape(title)}</h1>",
            f"<p>Games from {since or 'the first pick'} on.</p>",
            f"<ul>{items}</ul>",
            report._img(bankroll_png, "bankroll curve"),
            report._img(clv_png, "cumulative closing-line value"),
            "<h2>Settled picks</h2>",
            table,
        ]
    )
    notes = [
        "Picks are the ledger's (recommend-bets), settled by settle-bets from results.",
        "CLV = vig-free closing consensus minus vig-free consensus at decision, side bet; EV at "
        "close = decimal price taken x vig-free closing probability - 1.",
        "Void picks (postponed, suspended, moved games) are counted apart and do not enter the "
        "figures.",
    ]
    return report._write_document(path, title, body, notes)


def _plot(values: pd.Series, path: Path, ylabel: str, title: str, *, baseline: float) -> Path:
    figure = report._new_figure()
    axes = figure.subplots()
    if values.empty:
        axes.text(0.5, 0.5, "no settled picks", ha="center", va="center")
    else:
        axes.plot(range(1, len(values) + 1), values.to_numpy(dtype=float), marker=".")
    axes.axhline(baseline, linestyle="--", color="grey")
    axes.set(xlabel="settled pick", ylabel=ylabel, title=title)
    return report._save(figure, path)


def _pp(value: float) -> str:
    return f"{value * 100:+.2f}" if math.isfinite(value) else "n/a"


def _se(value: float) -> str:
    return f"{value * 100:.2f}" if math.isfinite(value) else "n/a"


def _pct(value: float) -> str:
    return f"{value:+.2%}" if math.isfinite(value) else "n/a"


@dataclass(frozen=True)
class StrategyGauges:
    """One strategy version's live numbers, for a metrics probe (bullpen.ops): nothing here is
    computed unless the ledger holds it (CLV and ROI are None without settled picks)."""

    strategy_version: str
    opportunities: int  # picks the strategy recorded (any state): an edge at the best price
    picks_open: int
    stake_at_risk: float
    picks_settled: int
    forward_clv_pp: float | None  # mean over settled picks with a closing line
    forward_roi: float | None  # profit / staked over settled picks that ran
    last_pick_at: datetime | None  # newest opened_at


_GAUGES = """
SELECT strategy_version,
       count(*),
       count(*) FILTER (WHERE state = 'open'),
       coalesce(sum(stake) FILTER (WHERE state = 'open'), 0)::float8,
       count(*) FILTER (WHERE state IN ('won', 'lost', 'push')),
       avg(clv_pp) FILTER (WHERE state IN ('won', 'lost', 'push') AND clv_pp IS NOT NULL),
       (sum(profit) FILTER (WHERE state IN ('won', 'lost', 'push'))
        / nullif(sum(stake) FILTER (WHERE state IN ('won', 'lost', 'push')), 0))::float8,
       max(opened_at)
FROM bets GROUP BY strategy_version ORDER BY strategy_version
"""


def strategy_gauges(conn: psycopg.Connection) -> list[StrategyGauges]:
    """Per strategy version: opportunities found (picks recorded), picks open, stake at risk,
    settled picks, forward CLV and ROI, and the time of the last pick (one query, cheap enough
    for every scrape). A candidate whose stake rounded to zero is not recorded, so not counted."""
    return [
        StrategyGauges(
            str(s),
            int(n_all),
            int(n_open),
            float(risk),
            int(n_settled),
            None if clv is None else float(clv),
            None if roi is None else float(roi),
            last,
        )  # fmt: skip
        for s, n_all, n_open, risk, n_settled, clv, roi, last in conn.execute(_GAUGES).fetchall()
    ]


# A strategy version names the registered model whose champion made the pick, e.g.
# "opener:closing-line-v7:t0.005:k0.25" (bullpen.betting.live.strategy_version).
_STRATEGY_MODEL = re.compile(r"^[a-z_]+:(?P<model>[a-z][a-z0-9-]*)-v(?P<version>[^:]+):")
# Model target -> the ledger's column that labels a forward prediction of it: a result for the
# moneyline model, the closing consensus the pick settled against for the closing-line model.
FORWARD_LABELS = {"home_win": "home_win", "p_close_home": "close_home"}
FORWARD_COLUMNS = (
    "game_id", "game_date", "model_version", "p_home", "consensus_home", "close_home",
    "home_win", "n_picks",
)  # fmt: skip


def strategy_model(strategy_version: str) -> tuple[str, str] | None:
    """(model name, model version) a strategy version was made by, None if it names none."""
    found = _STRATEGY_MODEL.match(strategy_version)
    return None if found is None else (found["model"], found["version"])


def forward_predictions(conn: psycopg.Connection, model: str) -> pd.DataFrame:
    """What `model`'s versions predicted before the games, one row per (game, model version),
    from the ledger's settled picks that ran (won, lost, push; a void game was not played).

    `p_home` and `consensus_home` are the values stored at decision time (the newest reprice
    before first pitch), `close_home` the closing consensus stored at settlement, `home_win`
    the result the pick was settled on (NaN for a tie). Several strategy versions of one model
    version on one game share its prediction: the oldest pick's row is kept.
    """
    bets = load_bets(conn)
    if bets.empty:
        return pd.DataFrame(columns=list(FORWARD_COLUMNS))
    made_by = bets["strategy_version"].map(lambda s: (strategy_model(s) or ("", ""))[0])
    ran = bets[(made_by == model) & bets["state"].isin(["won", "lost", "push"])]
    if ran.empty:
        return pd.DataFrame(columns=list(FORWARD_COLUMNS))
    dates = dict(
        conn.execute(
            "SELECT game_id, game_date FROM games WHERE game_id = ANY(%s)",
            (ran["game_id"].astype(int).tolist(),),
        ).fetchall()
    )
    won_home = (ran["state"] == "won") == (ran["side"] == "home")
    ran = ran.assign(
        home_win=won_home.astype(float).where(ran["state"] != "push"),
        game_date=ran["game_id"].map(dates),
        model_version=ran["model_version"].astype(str),
    )
    key = ["game_id", "model_version"]
    counts = ran.groupby(key).size().rename("n_picks").reset_index()
    first = ran.sort_values("bet_id").drop_duplicates(key)  # the whole oldest row, not mixed
    out = first.merge(counts, on=key).sort_values(key, ignore_index=True)
    for col in ("p_home", "consensus_home", "close_home"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    return out[list(FORWARD_COLUMNS)]


def forward_games(
    forward: pd.DataFrame | None,
    target: str,
    version: str,
    *,
    after: date | None = None,
    through: date | None = None,
) -> pd.DataFrame:
    """The rows of `forward_predictions` made by `version` with a label for `target`, on games
    dated after `after` and up to `through` (either open); empty when the ledger cannot label
    this target. The label is in column `label`."""
    label = FORWARD_LABELS.get(target)
    if forward is None or forward.empty or label is None:
        return pd.DataFrame(columns=[*FORWARD_COLUMNS, "label"])
    rows = forward[(forward["model_version"] == str(version)) & forward[label].notna()]
    if after is not None:
        rows = rows[rows["game_date"] > after]
    if through is not None:
        rows = rows[rows["game_date"] <= through]
    return rows.assign(label=rows[label].astype("float64")).reset_index(drop=True)
