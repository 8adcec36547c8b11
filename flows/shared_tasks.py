"""Tasks several flows share. Flow files import it by its bare name: Prefect puts a flow file's
folder on sys.path when it loads the file by path, as deployments and
`prefect_process.load_flow` do."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prefect import task
from prefect.cache_policies import NONE

from bullpen import runtime
from bullpen.ops import prefect_process

if TYPE_CHECKING:
    import pandas as pd


def transient_retries(delays: list[int], run_name: str) -> Callable[[Callable[..., Any]], Any]:
    """`@task` that retries a transient failure (timeout, 5xx, dropped database connection) once
    per delay in `delays` (seconds) and never caches a result; `run_name` names each run."""
    return task(
        cache_policy=NONE,
        retries=len(delays),
        retry_delay_seconds=delays,
        retry_condition_fn=prefect_process.retry_transient,
        task_run_name=run_name,
    )


@task(cache_policy=NONE)
def prepare_database(database_url: str) -> list[str]:
    return runtime.prepare_database(database_url)


@task(cache_policy=NONE)
def build_features(database_url: str, devig_method: str) -> pd.DataFrame:
    # Imported here: the collect flows import this module and need no feature code.
    from bullpen.features.dataset import load_feature_frame

    return load_feature_frame(database_url, devig_method)
