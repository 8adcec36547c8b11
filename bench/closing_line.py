"""Walk-forward study of the closing-line model and the opener strategy (issue: bet the opener).

For each scored season S: the closing-line model is fit on 2010..S-1 and predicts S; the
strategy's threshold and Kelly multiplier are chosen on the out-of-sample forecasts of up to
three seasons before S; then S is bet once. Prints per season and pooled: R^2 of the predicted
move, bets, mean CLV (pp) with its SE, EV at close with its 95 % interval, ROI with a bootstrap
interval, maximum drawdown. Also the home-win model against the vig-free opening line on the last
scored season, with the paired SE of the log-loss difference.

    .venv/bin/python bench/closing_line.py                       # fresh embedded Postgres
    BULLPEN_DATABASE_URL=postgresql://... .venv/bin/python bench/closing_line.py --no-load
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bullpen.betting.opener import OpenerParams, pooled_summary, season_bets
from bullpen.betting.walk_forward import walk_forward
from bullpen.features.dataset import load_feature_frame
from bullpen.models import assess
from bullpen.models.closing_line import closing_line_spec, open_time_features
from bullpen.models.evaluate import log_loss_per_game
from bullpen.models.train import MONEYLINE, train_model

REPO = Path(__file__).resolve().parents[1]


def _fmt(x: float, spec: str) -> str:
    return format(x, spec) if x is not None and math.isfinite(x) else "n/a"


def _load(url: str) -> None:
    from bullpen import runtime
    from bullpen.collect.history import replay

    runtime.prepare_database(url)
    started = time.perf_counter()
    data = REPO / "data"
    for files in replay.find_season_files(data):
        replay.replay_season(url, files)
    for events in replay.find_event_seasons(data):
        replay.replay_events(url, events.events, events.gamelog)
    print(f"loaded odds and events in {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--first", type=int, default=2014)
    parser.add_argument("--last", type=int, default=2019)
    parser.add_argument("--no-load", action="store_true", help="use BULLPEN_DATABASE_URL as is")
    args = parser.parse_args()

    tmp = None
    url = os.environ.get("BULLPEN_DATABASE_URL")
    if url is None:
        from bullpen.db.engine import start_embedded

        tmp = Path(tempfile.mkdtemp(prefix="bp-bench-"))
        url = start_embedded(tmp / "pgdata")
    try:
        if not args.no_load:
            _load(url)
        started = time.perf_counter()
        frame = load_feature_frame(url, "shin")
        print(f"feature frame {frame.shape} in {time.perf_counter() - started:.1f} s")
        features = open_time_features(frame)
        spec = closing_line_spec(features)
        print(f"closing-line model: {len(spec.features)} open-time features")
        started = time.perf_counter()
        seasons = list(range(args.first, args.last + 1))
        result = walk_forward(frame, spec, seasons, OpenerParams(), first_season=2010)
        print(f"walk-forward in {time.perf_counter() - started:.1f} s\n")
        header = (
            f"{'season':>6} {'R2 move':>8} {'thr':>6} {'kelly':>5} {'bets':>5} "
            f"{'CLV pp':>7} {'(SE)':>6} {'EV@close':>8} {'95% CI':>17} {'ROI':>7} "
            f"{'ROI 95% CI':>17} {'maxDD':>6}"
        )
        print(header)
        print("-" * len(header))
        for s in result.seasons:
            m = s.summary
            print(
                f"{s.season:>6} {s.r2_move:>8.4f} {s.params.threshold:>6.3f} "
                f"{s.params.kelly_multiplier:>5.2f} {m.n:>5d} {_fmt(m.mean_clv * 100, '+7.2f')} "
                f"{_fmt(m.clv_se * 100, '6.2f')} {_fmt(m.ev_at_close * 100, '+7.2f')}% "
                f"[{_fmt(m.ev_ci[0] * 100, '+6.2f')},{_fmt(m.ev_ci[1] * 100, '+6.2f')}]% "
                f"{_fmt(m.roi * 100, '+6.1f')}% "
                f"[{_fmt(m.roi_ci[0] * 100, '+6.1f')},{_fmt(m.roi_ci[1] * 100, '+6.1f')}]% "
                f"{_fmt(m.max_drawdown * 100, '5.1f')}%"
            )
        p = result.pooled
        print(
            f"{'pooled':>6} {'':>8} {'':>6} {'':>5} {p.n:>5d} {_fmt(p.mean_clv * 100, '+7.2f')} "
            f"{_fmt(p.clv_se * 100, '6.2f')} {_fmt(p.ev_at_close * 100, '+7.2f')}% "
            f"[{_fmt(p.ev_ci[0] * 100, '+6.2f')},{_fmt(p.ev_ci[1] * 100, '+6.2f')}]% "
            f"{_fmt(p.roi * 100, '+6.1f')}% "
            f"[{_fmt(p.roi_ci[0] * 100, '+6.1f')},{_fmt(p.roi_ci[1] * 100, '+6.1f')}]%"
        )
        for s in result.seasons:
            print(f"  {s.season}: {s.why}")

        # The outside study's fixed rule (bet when the predicted move exceeds 2 points, quarter
        # Kelly): nothing chosen on data, same forecasts.
        fixed = OpenerParams(threshold=0.02, kelly_multiplier=0.25)
        rows = [
            season_bets(season, result.forecasts[season].games, 0.0, fixed, "fixed")
            for season in seasons
        ]
        pooled = pooled_summary(rows)
        print("\nfixed rule (threshold 0.02, quarter Kelly), same forecasts:")
        for s in [*rows, None]:
            m = pooled if s is None else s.summary
            label = "pooled" if s is None else str(s.season)
            print(
                f"{label:>6} bets {m.n:>4d}  CLV {_fmt(m.mean_clv * 100, '+.2f')} pp "
                f"(SE {_fmt(m.clv_se * 100, '.2f')})  "
                f"EV@close {_fmt(m.ev_at_close * 100, '+.2f')}% "
                f"[{_fmt(m.ev_ci[0] * 100, '+.2f')}, {_fmt(m.ev_ci[1] * 100, '+.2f')}]  "
                f"ROI {_fmt(m.roi * 100, '+.1f')}% [{_fmt(m.roi_ci[0] * 100, '+.1f')}, "
                f"{_fmt(m.roi_ci[1] * 100, '+.1f')}]  maxDD {_fmt(m.max_drawdown * 100, '.1f')}%"
            )

        # The home-win model, as registered and with the open-time player features added,
        # against the vig-free opening line on the last season.
        last = args.last
        with_players = replace(MONEYLINE, features=(*MONEYLINE.features, *features))
        for label, spec_ml in (("as registered", MONEYLINE), ("+ player features", with_players)):
            model = train_model(frame[frame["season"] < last], spec_ml)
            games = assess.comparable_games(frame[frame["season"] == last], spec_ml)
            y = games["home_win"].to_numpy(float)
            diff = log_loss_per_game(y, model.predict(games)) - log_loss_per_game(
                y, games["p_open_home"].to_numpy(float)
            )
            se = diff.std(ddof=1) / np.sqrt(diff.size)
            print(
                f"home-win model {last}, {label} ({len(spec_ml.features)} features, "
                f"{model.num_rounds} rounds): log loss minus vig-free open {diff.mean():+.5f} "
                f"(paired SE {se:.5f}, n {diff.size})"
            )
    finally:
        if tmp is not None:
            from bullpen.db.engine import stop_embedded

            stop_embedded(tmp / "pgdata")
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
