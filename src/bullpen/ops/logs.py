"""Structured JSON logs for the `bullpen` logger, carrying the Prefect flow-run id when there
is one (no Prefect import: the id comes from the record, Prefect's context if already loaded, or
the PREFECT__FLOW_RUN_ID variable a worker sets for the flow-run process)."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def current_flow_run_id() -> str | None:
    # Ask Prefect only when a flow already imported it: logging must never import Prefect.
    prefect_context = sys.modules.get("prefect.context")
    if prefect_context is not None:
        ctx = prefect_context.FlowRunContext.get()
        if ctx is not None and getattr(ctx, "flow_run", None) is not None:
            return str(ctx.flow_run.id)
    return os.environ.get("PREFECT__FLOW_RUN_ID") or None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, flow_run_id, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        run_id = getattr(record, "flow_run_id", None) or current_flow_run_id()
        if run_id:
            body["flow_run_id"] = str(run_id)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in body and not key.startswith("_"):
                body[key] = (
                    value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
                )
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def configure_logging(level: int = logging.INFO, stream: object = None) -> logging.Handler:
    """Send the `bullpen` logger's records to stderr as JSON lines (idempotent)."""
    logger = logging.getLogger("bullpen")
    logger.setLevel(level)
    for handler in logger.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return handler
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    # Not also through the root logger's plain handler (the line would print twice); Prefect's
    # API handler sits on `bullpen` itself (PREFECT_LOGGING_EXTRA_LOGGERS), so the UI still gets it.
    logger.propagate = False
    return handler
