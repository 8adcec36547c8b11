"""Operations: read bullpen's real state and report it.

- `targets`: what to read (database, MLflow, S3, Prefect API, disk) and how it is located.
- `probes`: readers of that state (freshness, quarantine, champions, backups, Postgres, host).
- `metrics`: the Prometheus exporter built on the probes; `health`: pass/warn/fail checks;
  `status`: the one-screen `bullpen status`.
- `automations`: the self-healing Prefect automations as documents; `logs`: JSON logging.
- `prefect_process`: Prefect in this process (defaults, loading flows, the temporary server,
  the task retry condition, applying the automations); the one ops module that imports Prefect.
"""
