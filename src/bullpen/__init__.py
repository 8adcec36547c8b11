"""bullpen: MLOps for MLB betting models."""

__version__ = "0.1.0"
