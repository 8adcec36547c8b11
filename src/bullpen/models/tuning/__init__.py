"""Hyper-parameter search for the LightGBM models, one module per job: `cv` (walk-forward folds
and cross-validation), `search` (Optuna studies on Postgres: search space, objective, pruner,
runner), `store` (table `tuned_params` and the rule for using it) and `report` (confirm on the
held-out season, log to MLflow with plots, publish)."""
