"""train-models and `bullpen evaluate` against real PostgreSQL and a real MLflow registry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bullpen.collect.history import replay
from bullpen.db import engine
from bullpen.features.dataset import load_feature_frame
from bullpen.models import assess, mlflow_store, train
from bullpen.ops import prefect_process
from bullpen.registry import audit, champion, transition
from tests.conftest import DATA
from tests.integration.conftest import stage_seasons

TRAIN_SEASONS = [2015, 2016, 2017]
EVAL_SEASON = 2018


@pytest.fixture(scope="module")
def loaded(bullpen_env: dict[str, str]) -> dict[str, str]:
    data_dir = stage_seasons(Path(bullpen_env["BULLPEN_DATA_DIR"]), [*TRAIN_SEASONS, EVAL_SEASON])
    for files in replay.find_season_files(data_dir):
        replay.replay_season(bullpen_env["BULLPEN_DATABASE_URL"], files)
    # Play-by-play of the training seasons, with 2014 as the players' warm-up; none of 2019, so
    # evaluating the 2019 file must say its player features are stale.
    events = data_dir / "retrosheet" / "events"
    events.mkdir(parents=True, exist_ok=True)
    for season in [TRAIN_SEASONS[0] - 1, *TRAIN_SEASONS, EVAL_SEASON]:
        shutil.copy(DATA / "retrosheet" / "events" / f"{season}.tar.gz", events)
        shutil.copy(DATA / "retrosheet" / f"GL{season}.TXT.gz", data_dir / "retrosheet")
    for files in replay.find_event_seasons(data_dir):
        replay.replay_events(bullpen_env["BULLPEN_DATABASE_URL"], files.events, files.gamelog)
    return bullpen_env


def _audit(env: dict[str, str], model: str) -> list[audit.AuditRow]:
    with engine.connect(env["BULLPEN_DATABASE_URL"]) as conn:
        return audit.list_audit(conn, model)


def _versions(uri: str, name: str) -> list[str]:
    return sorted(
        v.version for v in mlflow_store.client(uri).search_model_versions(f"name = '{name}'")
    )


def test_train_models_registers_and_sets_champion_once(
    loaded: dict[str, str], prefect_server: None
) -> None:
    uri = loaded["BULLPEN_MLFLOW_TRACKING_URI"]
    flow = prefect_process.load_flow("train_models.py:train_models")

    first = flow(eval_season=EVAL_SEASON)  # type: ignore[operator]
    for name in ("moneyline", "totals"):
        registered = f"bullpen-{name}"
        champ = mlflow_store.get_alias_version(uri, registered, "champion")
        assert champ is not None and str(champ.version) == first[name]["version"]
        assert first[name]["decision"] == "no champion yet"
        run = mlflow_store.client(uri).get_run(champ.run_id)
        assert run.data.metrics["model_log_loss"] > 0
        artifacts = {a.path for a in mlflow_store.client(uri).list_artifacts(champ.run_id)}
        assert f"calibration_{name}.png" in artifacts

    ml = first["moneyline"]["comparison"]
    assert ml["model"]["n"] == ml["market_close"]["n"] > 2000
    assert ml["model"]["log_loss"] < ml["home_rate"]["log_loss"] - 0.01
    assert abs(ml["model"]["log_loss"] - ml["market_close"]["log_loss"]) < 0.01

    # The closing-line model: registered through the same gate, and it predicts the close better
    # than the opening price does (the "no move" forecast) on a season it never saw.
    closing = first["closing-line"]
    assert closing["decision"] == "no champion yet"
    assert mlflow_store.get_alias_version(uri, "bullpen-closing-line", "champion") is not None
    cl = closing["comparison"]
    assert cl["model"]["n"] == cl["market_open"]["n"] > 2000
    assert cl["model"]["log_loss"] < cl["market_open"]["log_loss"]
    assert cl["model"]["brier"] < cl["market_open"]["brier"]

    # Each first champion came through `transition` with an audit row saying why.
    for model in ("moneyline", "totals", "closing-line"):
        rows = _audit(loaded, model)
        assert len(rows) == 1, model
        row = rows[0]
        assert (row.action, row.stage, row.trigger, row.reason) == (
            "promoted", "first", "train-models", "no champion yet",
        )  # fmt: skip
        assert row.champion_before is None and row.forced is False
        assert row.champion_after == row.challenger_version == first[model]["version"]
        assert row.numbers["checks"]["market_monotone"]["passed"] is True
        assert row.numbers["champion_log_loss"] is None and row.ci_lower is None
        assert row.data_through is not None and row.data_through.year == EVAL_SEASON
        assert transition.read_aliases(uri, f"bullpen-{model}") == {
            "champion": first[model]["version"], "challenger": None, "previous-champion": None,
        }  # fmt: skip
    for model in ("moneyline", "closing-line"):  # every registered model has its history
        history = _history_cli(model)
        assert "promoted" in history and "[first] champion - -> 1, challenger v1" in history
        assert "trigger: train-models" in history and "reason:  no champion yet" in history
        assert "market_monotone passed" in history

    versions_before = _versions(uri, "bullpen-moneyline")
    second = flow(eval_season=EVAL_SEASON)  # type: ignore[operator]
    assert second["moneyline"]["reused_version"] is True
    assert second["moneyline"]["champion_version"] == first["moneyline"]["version"]
    assert second["moneyline"]["decision"] == "already champion"
    assert _versions(uri, "bullpen-moneyline") == versions_before
    # Rerunning an identical training decides nothing: no alias moves, no audit row.
    assert [len(_audit(loaded, m)) for m in ("moneyline", "totals", "closing-line")] == [1, 1, 1]


def _history_cli(model: str) -> str:
    from typer.testing import CliRunner

    from bullpen.cli import app

    ran = CliRunner().invoke(app, ["model", "history", "--model", model])
    assert ran.exit_code == 0, ran.output
    return ran.output


def _fair_home(home: float, away: float) -> float:
    # Independent of bullpen.features.odds: two-way Shin removes half the margin from each side.
    def implied(american: float) -> float:
        return 100 / (american + 100) if american > 0 else -american / (-american + 100)

    return (1 + implied(home) - implied(away)) / 2


def test_backtest_flow_bets_the_opener_walk_forward(loaded: dict[str, str]) -> None:
    uri = loaded["BULLPEN_MLFLOW_TRACKING_URI"]
    flow = prefect_process.load_flow("backtest.py:backtest_champion")
    result = flow(eval_season=EVAL_SEASON, first_season=EVAL_SEASON - 1)  # type: ignore[operator]

    assert [row["season"] for row in result["seasons"]] == [EVAL_SEASON - 1, EVAL_SEASON]
    assert Path(result["report"]).read_text().count("<tr>") >= 3
    last = result["seasons"][-1]
    assert last["r2_move"] > 0.0  # the champion predicts the move better than its mean
    assert result["pooled"]["n"] == sum(row["n"] for row in result["seasons"])
    # The settings the eval season was bet with are recorded on the champion for `evaluate`.
    champ = mlflow_store.get_alias_version(uri, "bullpen-closing-line", "champion")
    assert champ is not None
    assert float(champ.tags["bullpen.opener.threshold"]) == last["threshold"]
    assert float(champ.tags["bullpen.opener.kelly_multiplier"]) == last["kelly_multiplier"]


def test_walk_forward_bets_settle_against_the_real_lines_and_never_see_their_season(
    loaded: dict[str, str],
) -> None:
    from bullpen.betting.opener import OpenerParams
    from bullpen.betting.walk_forward import walk_forward
    from bullpen.models.closing_line import CLOSING_LINE

    frame = load_feature_frame(loaded["BULLPEN_DATABASE_URL"], "shin")
    scored = EVAL_SEASON
    base = OpenerParams(threshold=0.01)
    result = walk_forward(frame, CLOSING_LINE, [scored], base)
    season = result.seasons[0]
    assert season.summary.n > 20
    games = frame.set_index("game_id")
    for bet in season.result.bets.itertuples():
        game = games.loc[bet.game_id]
        fair_open = _fair_home(game["home_open_ml"], game["away_open_ml"])
        fair_close = _fair_home(game["home_close_ml"], game["away_close_ml"])
        if bet.side == "away":
            fair_open, fair_close = 1 - fair_open, 1 - fair_close
            price = game["away_open_ml"]
            won = game["home_score"] < game["away_score"]
        else:
            price = game["home_open_ml"]
            won = game["home_score"] > game["away_score"]
        decimal = 1 + price / 100 if price > 0 else 1 + 100 / -price
        assert bet.clv_pp == pytest.approx(fair_close - fair_open, abs=1e-9)
        assert bet.ev_close == pytest.approx(decimal * fair_close - 1, abs=1e-9)
        assert bet.profit == pytest.approx(bet.stake * (decimal - 1) if won else -bet.stake)

    # Scramble the scored season's closing prices and results: its forecasts and its chosen
    # settings must not move (they come from earlier seasons only); only the settlement does.
    scrambled = frame.copy()
    in_season = scrambled["season"] == scored
    rng = np.random.default_rng(3)
    for column in ("home_close_ml", "away_close_ml", "p_close_home", "home_win"):
        values = scrambled.loc[in_season, column].to_numpy()
        scrambled.loc[in_season, column] = rng.permutation(values)
    again = walk_forward(scrambled, CLOSING_LINE, [scored], base)
    assert again.seasons[0].params == season.params
    one = result.forecasts[scored].games.set_index("game_id")["p_close_pred"]
    two = again.forecasts[scored].games.set_index("game_id")["p_close_pred"]
    common = one.index.intersection(two.index)
    assert len(common) > 2000
    assert np.allclose(one.loc[common], two.loc[common])


def test_worse_challenger_is_registered_but_not_champion(loaded: dict[str, str]) -> None:
    uri = loaded["BULLPEN_MLFLOW_TRACKING_URI"]
    champion_before = mlflow_store.get_alias_version(uri, "bullpen-moneyline", "champion")
    assert champion_before is not None
    frame = load_feature_frame(loaded["BULLPEN_DATABASE_URL"], "shin")
    history = frame[frame["season"] < EVAL_SEASON].copy()
    history["home_win"] = np.random.default_rng(0).permutation(history["home_win"].to_numpy())
    shuffled = train.train_model(history, train.MONEYLINE)
    games = assess.comparable_games(frame[frame["season"] == EVAL_SEASON], train.MONEYLINE)
    evaluation = assess.evaluate_season(
        games, train.MONEYLINE, shuffled.predict(games), 0.53, EVAL_SEASON
    )

    with engine.connect(loaded["BULLPEN_DATABASE_URL"]) as conn:
        result = champion.register_and_decide(
            conn,
            tracking_uri=uri,
            experiment_id=mlflow_store.ensure_experiment(
                uri, "tests", Path(loaded["BULLPEN_HOME"]) / "a"
            ),
            model=shuffled,
            evaluation=evaluation,
            eval_games=games,
            fingerprint=train.training_fingerprint(history, train.MONEYLINE, shuffled.params),
        )

    # The same gates as retrain-models: paired bootstrap on the same games, behaviour checks.
    assert result.decision.promote is False
    assert result.comparison is not None and result.comparison.interval is not None
    assert result.comparison.champion_version == str(champion_before.version)
    assert result.comparison.champion_log_loss is not None
    assert result.comparison.champion_log_loss < result.comparison.challenger_log_loss
    assert result.comparison.interval.n == len(games)
    aliases = transition.read_aliases(uri, "bullpen-moneyline")
    assert aliases["champion"] == str(champion_before.version) == result.champion_version
    assert aliases["challenger"] == result.version  # left as the challenger, not champion
    row = _audit(loaded, "moneyline")[0]
    assert (row.audit_id, row.action, row.trigger) == (result.audit_id, "rejected", "train-models")
    assert row.reason == result.decision.reason
    assert row.champion_before == row.champion_after == str(champion_before.version)


def test_evaluate_cli_scores_a_season_the_database_never_saw(loaded: dict[str, str]) -> None:
    odds_file = DATA / "odds" / "mlb_odds_2019.csv.gz"
    proc = subprocess.run(
        [sys.executable, "-m", "bullpen.cli", "evaluate", "--odds-file", str(odds_file), "--json"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)

    assert result["season"] == 2019
    for key in ("model", "market_open", "market_close", "home_rate"):
        assert set(result[key]) == {"log_loss", "brier", "accuracy", "ece", "n"}
        assert 2000 < result[key]["n"] < 2500
        assert 0.60 < result[key]["log_loss"] < 0.70
    assert result["market_close"]["log_loss"] < result["home_rate"]["log_loss"]
    assert abs(result["model"]["log_loss"] - result["market_close"]["log_loss"]) < 0.015
    assert set(result["models"]) == {"moneyline", "totals"}
    # The champion strategy on the file, and a plain note that 2019's players are not loaded.
    assert result["partial_features"] is True
    assert any("no play-by-play of 2019" in note for note in result["notes"])
    assert not any("also in the database" in note for note in result["notes"])
    assert {"n", "mean_clv", "clv_se", "ev_at_close", "ev_ci", "roi", "roi_ci"} <= set(
        result["bets"]
    )
    assert set(result["closing_line"]) >= {"r2_move", "n"}
    assert 2000 < result["closing_line"]["n"] < 2500
    assert -1.0 < result["closing_line"]["r2_move"] < 1.0


@pytest.mark.parametrize("command", ["train", "backtest"])
def test_cli_refuses_a_season_the_database_lacks_before_any_flow_run(
    loaded: dict[str, str], command: str
) -> None:
    from typer.testing import CliRunner

    from bullpen.cli import app

    ran = CliRunner().invoke(app, [command, "--eval-season", "2019"])

    assert ran.exit_code == 2, ran.output
    assert (
        "evaluating on 2019 needs that season and an earlier one with results, "
        "found 2015, 2016, 2017, 2018; load seasons with `bullpen collect-history`"
    ) in ran.stderr
    assert "Traceback" not in ran.output and "prefect" not in ran.output.lower()


def test_listed_starters_are_linked_stored_and_listed(loaded: dict[str, str]) -> None:
    from typer.testing import CliRunner

    from bullpen.cli import app
    from bullpen.players.linking import REGISTER_FILE, link_and_store

    url = loaded["BULLPEN_DATABASE_URL"]
    first = link_and_store(url, DATA / REGISTER_FILE)
    # Rosters are loaded for 2014-2018: the four odds seasons' games are linked.
    assert first.sides > 4 * 2 * 2400
    assert first.matched / first.named > 0.99
    assert first.unmatched == first.named - first.matched
    assert link_and_store(url, DATA / REGISTER_FILE) == first  # idempotent

    rates = CliRunner().invoke(app, ["players", "rates"])
    assert rates.exit_code == 0, rates.output
    assert [line.split()[0] for line in rates.output.splitlines()[1:]] == [
        str(s) for s in (*TRAIN_SEASONS, EVAL_SEASON)
    ]
    listed = CliRunner().invoke(app, ["players", "unmatched", "--limit", "500"])
    assert listed.exit_code == 0
    assert f"({first.unmatched} shown)" in listed.output


def test_feature_frame_is_served_from_memory_only_while_the_database_is_unchanged(
    loaded: dict[str, str],
) -> None:
    from bullpen.db import engine

    url = loaded["BULLPEN_DATABASE_URL"]
    first = load_feature_frame(url, "shin")
    assert load_feature_frame(url, "shin").equals(first)
    change = (
        "UPDATE results SET home_score = home_score + %s"
        " WHERE game_id = (SELECT min(game_id) FROM results)"
    )
    with engine.connect(url) as conn:
        conn.execute(change, (1,))
        conn.commit()
    try:
        changed = load_feature_frame(url, "shin")
        assert not changed.equals(first)
        assert (changed["home_score"] - first["home_score"]).fillna(0).abs().sum() == 1
    finally:
        with engine.connect(url) as conn:
            conn.execute(change, (-1,))
            conn.commit()
    assert load_feature_frame(url, "shin").equals(first)


def test_evaluate_warns_when_the_file_season_is_already_in_the_database(
    loaded: dict[str, str],
) -> None:
    from bullpen.models.score_file import evaluate_odds_file

    result = evaluate_odds_file(
        DATA / "odds" / f"mlb_odds_{EVAL_SEASON}.csv.gz",
        database_url=loaded["BULLPEN_DATABASE_URL"],
        tracking_uri=loaded["BULLPEN_MLFLOW_TRACKING_URI"],
        devig_method="shin",
    )
    assert any(f"season {EVAL_SEASON} is also in the database" in note for note in result.notes)
    assert result.partial_features is False  # its play-by-play is loaded
