"""The pinned stack must let Prefect's scheduler create runs for scheduled deployments.

SQLAlchemy 2.1 made Prefect 3.8.8's bulk insert of scheduled runs raise ("Can't evaluate bulk
DML statement"), so every cron and interval deployment in prefect.yaml silently never ran.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid

from bullpen.db.engine import ensure_database


def test_the_scheduler_creates_runs_for_an_interval_deployment(pg_server_url: str) -> None:
    """On the Postgres backend the local stack gives the Prefect server."""
    from prefect.server import models, schemas
    from prefect.server.database import provide_database_interface
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL, temporary_settings

    async def schedule() -> int:
        db = provide_database_interface()
        await db.create_db()
        async with db.session_context(begin_transaction=True) as session:
            flow = await models.flows.create_flow(session, schemas.core.Flow(name="scheduled"))
            deployment = await models.deployments.create_deployment(
                session,
                schemas.core.Deployment(
                    name="every-15-min",
                    flow_id=flow.id,
                    schedules=[
                        schemas.core.DeploymentSchedule(
                            schedule=schemas.schedules.IntervalSchedule(
                                interval=datetime.timedelta(minutes=15)
                            ),
                            active=True,
                        )
                    ],
                ),
            )
        assert deployment is not None
        async with db.session_context(begin_transaction=True) as session:
            return len(await models.deployments.schedule_runs(session, deployment_id=deployment.id))

    database = ensure_database(pg_server_url, f"prefect_{uuid.uuid4().hex[:8]}")
    asyncpg_url = database.replace("postgresql://", "postgresql+asyncpg://", 1)
    with temporary_settings(updates={PREFECT_API_DATABASE_CONNECTION_URL: asyncpg_url}):
        created = asyncio.run(schedule())
    assert created >= 3
