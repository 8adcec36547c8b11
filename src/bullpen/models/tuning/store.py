"""The tuned-parameter store: a study's best in table `tuned_params`, and the rule that decides
whether train-models uses it instead of the defaults."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from bullpen.db import engine
from bullpen.models.train import SPECS, ModelSpec
from bullpen.models.tuning.search import TUNED_KEYS, spec_signature


@dataclass(frozen=True)
class TunedParams:
    """A study's best trial, as persisted in `tuned_params` and logged to MLflow."""

    study: str
    model: str
    spec_signature: str
    eval_season: int
    valid_seasons: tuple[int, ...]
    best_trial: int
    params: dict[str, Any]
    cv_log_loss: float
    default_cv_log_loss: float
    fold_log_loss: tuple[float, ...]
    default_fold_log_loss: tuple[float, ...]
    n_complete: int
    n_pruned: int
    n_failed: int
    mlflow_run_id: str | None = None
    # Both parameter sets trained as train-models trains and scored on `eval_season`, the
    # season the study held out (None until `confirm_on_held_out_season` ran).
    confirm_log_loss: float | None = None
    default_confirm_log_loss: float | None = None

    @property
    def beats_defaults(self) -> bool:
        return decide_use_tuned(
            self.cv_log_loss,
            self.default_cv_log_loss,
            self.confirm_log_loss,
            self.default_confirm_log_loss,
        )


def decide_use_tuned(
    cv_log_loss: float,
    default_cv_log_loss: float,
    confirm_log_loss: float | None,
    default_confirm_log_loss: float | None,
) -> bool:
    """Tuned parameters replace the defaults only when they are strictly better both in CV and
    on the held-out season the search never scored.

    CV alone always says yes: the best of N trials is scored on the folds that chose it. On
    2018 and 2019, three seeds each, adopting on CV alone cost 0.00011 (moneyline) and 0.00033
    (totals) of log loss on average against the defaults; with the confirmation 0.00003 and
    0.00016 (bench/tuning_rules.py).
    """
    if confirm_log_loss is None or default_confirm_log_loss is None:
        return False
    return (
        math.isfinite(cv_log_loss)
        and cv_log_loss < default_cv_log_loss
        and math.isfinite(confirm_log_loss)
        and confirm_log_loss < default_confirm_log_loss
    )


def write_tuned_params(database_url: str, tuned: TunedParams) -> None:
    """Upsert the study's best (one row per study; a resumed study updates its row)."""
    with engine.connect(database_url) as conn, conn.transaction():
        conn.execute(
            """
            INSERT INTO tuned_params (study, model, spec_signature, eval_season, valid_seasons,
                best_trial, params, cv_log_loss, default_cv_log_loss, n_complete, n_pruned,
                mlflow_run_id, confirm_log_loss, default_confirm_log_loss)
            VALUES (%(study)s, %(model)s, %(spec_signature)s, %(eval_season)s,
                %(valid_seasons)s, %(best_trial)s, %(params)s, %(cv_log_loss)s,
                %(default_cv_log_loss)s, %(n_complete)s, %(n_pruned)s, %(mlflow_run_id)s,
                %(confirm_log_loss)s, %(default_confirm_log_loss)s)
            ON CONFLICT (study) DO UPDATE SET
                best_trial = EXCLUDED.best_trial, params = EXCLUDED.params,
                cv_log_loss = EXCLUDED.cv_log_loss,
                default_cv_log_loss = EXCLUDED.default_cv_log_loss,
                confirm_log_loss = EXCLUDED.confirm_log_loss,
                default_confirm_log_loss = EXCLUDED.default_confirm_log_loss,
                n_complete = EXCLUDED.n_complete, n_pruned = EXCLUDED.n_pruned,
                mlflow_run_id = COALESCE(EXCLUDED.mlflow_run_id, tuned_params.mlflow_run_id),
                updated_at = now()
            """,
            {
                **asdict(tuned),
                "valid_seasons": list(tuned.valid_seasons),
                "params": json.dumps(tuned.params),
            },
        )


def fetch_tuned_params(database_url: str, spec: ModelSpec, eval_season: int) -> TunedParams | None:
    """The latest study's best for `spec` whose held-out season precedes `eval_season`, if any
    (so its folds and its confirmation season do too).

        Studies of another feature set or search space (other `spec_signature`) are ignored.
    """
    from psycopg.rows import dict_row

    with engine.connect(database_url, row_factory=dict_row) as conn:
        if conn.execute("SELECT to_regclass('tuned_params') AS t").fetchone() == {"t": None}:
            return None  # migration 0003 not applied yet: nothing was ever tuned here
        row = conn.execute(
            """
            SELECT study, model, spec_signature, eval_season, valid_seasons, best_trial, params,
                cv_log_loss, default_cv_log_loss, n_complete, n_pruned, mlflow_run_id,
                confirm_log_loss, default_confirm_log_loss
            FROM tuned_params
            WHERE model = %s AND spec_signature = %s AND eval_season < %s
            ORDER BY updated_at DESC, study
            LIMIT 1
            """,
            (spec.name, spec_signature(spec), eval_season),
        ).fetchone()
    if row is None:
        return None
    # jsonb reorders keys; present them in the search space's order.
    params = {key: row["params"][key] for key in sorted(row["params"], key=_param_order)}
    return TunedParams(
        **{**row, "valid_seasons": tuple(row["valid_seasons"]), "params": params},
        fold_log_loss=(),
        default_fold_log_loss=(),
        n_failed=0,
    )


def _param_order(key: str) -> tuple[int, str]:
    return (TUNED_KEYS.index(key) if key in TUNED_KEYS else len(TUNED_KEYS), key)


def load_tuned_params(database_url: str, model: str, eval_season: int) -> dict[str, Any] | None:
    """Parameters for `train_model` when a study's best beat the defaults in CV and on the
    season it held out, else None (defaults).

    Only studies whose held-out season precedes `eval_season` count, so a model judged on a
    season never gets parameters chosen or confirmed by looking at that season.
    """
    tuned = fetch_tuned_params(database_url, SPECS[model], eval_season)
    if tuned is None or not tuned.beats_defaults:
        return None
    return tuned.params
