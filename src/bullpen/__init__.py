"""bullpen: MLOps for MLB betting models."""

__version__ = "0.1.0"

# The season reported by default: tuning, model choice and strategy settings never see it.
# Here rather than in config so that the CLI's option defaults cost no settings import.
DEFAULT_EVAL_SEASON = 2019
