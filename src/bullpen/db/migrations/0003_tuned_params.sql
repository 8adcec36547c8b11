-- Hyper-parameter search: Optuna's own tables go in schema `optuna` (tune.optuna_storage_url sets
-- the search_path); tuned_params keeps each study's best trial for train-models.
CREATE SCHEMA IF NOT EXISTS optuna;

CREATE TABLE tuned_params (
    study               text PRIMARY KEY,   -- Optuna study name (model, folds, spec signature)
    model               text NOT NULL,
    spec_signature      text NOT NULL,      -- features, constraints, base margin, search space
    eval_season         integer NOT NULL,   -- the study never looked at this season or later
    valid_seasons       integer[] NOT NULL, -- walk-forward validation seasons
    best_trial          integer NOT NULL,
    params              jsonb NOT NULL,     -- LightGBM parameters on top of DEFAULT_PARAMS
    cv_log_loss         double precision NOT NULL,
    default_cv_log_loss double precision NOT NULL,
    n_complete          integer NOT NULL,
    n_pruned            integer NOT NULL,
    mlflow_run_id       text,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (eval_season > ALL (valid_seasons)),
    CHECK (cardinality(valid_seasons) > 0)
);
CREATE INDEX tuned_params_model_idx ON tuned_params (model, updated_at DESC);
