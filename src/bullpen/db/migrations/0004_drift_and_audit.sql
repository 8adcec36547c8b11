-- Drift checks (one row per check-drift run and model) and the model audit trail (every
-- promotion, rejected challenger, stopped retraining and rollback, with reasons and numbers).
CREATE TABLE drift_checks (
    check_id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model                text NOT NULL,              -- "moneyline" | "totals"
    champion_version     text NOT NULL,
    checked_at           timestamptz NOT NULL DEFAULT now(),
    window_start         date NOT NULL,              -- current window (inclusive)
    window_end           date NOT NULL,
    reference_seasons    integer[] NOT NULL,         -- the champion's training seasons
    n_reference          integer NOT NULL,
    n_current            integer NOT NULL,
    n_features           integer NOT NULL,
    n_drifted            integer NOT NULL,
    drift_share          double precision NOT NULL,
    prediction_drift     boolean NOT NULL,
    prediction_drift_p   double precision,           -- K-S p-value of the champion's predictions
    n_settled            integer NOT NULL,           -- window games with a result and a close
    model_log_loss       double precision,           -- champion on the settled games
    close_log_loss       double precision,           -- vig-free closing line, same games
    relative_gap         double precision,           -- model / close - 1
    gap_lower            double precision,           -- bootstrap CI of mean(model - close)
    gap_upper            double precision,
    verdict              text NOT NULL CHECK (verdict IN ('ok', 'retrain')),
    reasons              text[] NOT NULL,
    per_feature          jsonb NOT NULL,             -- column -> {method, threshold, value, drifted}
    report_uri           text,                       -- Evidently HTML (MLflow artifact)
    mlflow_run_id        text,
    CHECK (window_start <= window_end),
    CHECK (drift_share BETWEEN 0 AND 1)
);
CREATE INDEX drift_checks_model_idx ON drift_checks (model, checked_at DESC);

CREATE TABLE model_audit (
    audit_id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model                text NOT NULL,
    action               text NOT NULL
        CHECK (action IN ('promoted', 'rejected', 'stopped', 'rolled_back')),
    forced               boolean NOT NULL DEFAULT false,
    stage                text NOT NULL,              -- data_quality, behaviour, bootstrap, monitor, manual
    trigger              text NOT NULL,              -- why the run happened: manual, weekly, drift ...
    reason               text NOT NULL,              -- why the decision went this way
    champion_before      text,                       -- versions (NULL: no such alias)
    champion_after       text,
    challenger_version   text,
    ci_lower             double precision,           -- bootstrap CI of mean(new - old) log loss
    ci_upper             double precision,
    confidence           double precision,
    numbers              jsonb NOT NULL DEFAULT '{}'::jsonb,
    data_through         date,                       -- newest game the decision looked at
    created_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (action <> 'promoted' OR champion_after IS NOT NULL),
    CHECK (NOT forced OR action = 'promoted')
);
CREATE INDEX model_audit_model_idx ON model_audit (model, created_at DESC, audit_id DESC);
