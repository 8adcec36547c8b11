"""Tasks several flows share. Flow files import it by its bare name: Prefect puts a flow file's
folder on sys.path when it loads the file by path, as deployments and
`prefect_process.load_flow` do."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from bullpen import runtime
from bullpen.features.dataset import load_feature_frame


@task(cache_policy=NONE)
def prepare_database(database_url: str) -> list[str]:
    return runtime.prepare_database(database_url)


@task(cache_policy=NONE)
def build_features(database_url: str, devig_method: str) -> pd.DataFrame:
    return load_feature_frame(database_url, devig_method)
