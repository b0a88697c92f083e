"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources.

Loading it reads the environment (settings.py) and nothing else: no connection, no file
read, no Great Expectations import happens until a step runs.
"""

from __future__ import annotations

import dagster as dg

from funnel_pipeline.assets import charts, config, core, marts, publish, quality, raw
from funnel_pipeline.operations import alerts, jobs, schedules, sensors
from funnel_pipeline.operations.freshness import with_marts_freshness
from funnel_pipeline.resources import FunnelWarehouse
from funnel_pipeline.settings import Settings

_settings = Settings.from_env()

defs = dg.Definitions(
    assets=with_marts_freshness(
        dg.load_assets_from_modules([config, raw, core, quality, marts, publish, charts]),
        _settings),
    jobs=[jobs.nightly_job, jobs.ingest_job],
    schedules=[schedules.nightly_schedule(_settings)],
    sensors=[sensors.landing_sensor(_settings), alerts.failure_alert_sensor(_settings)],
    resources={"warehouse": FunnelWarehouse.from_settings(_settings)},
    # Steps run one after another in the run's own process: DuckDB allows one writer per
    # file, and this also saves a subprocess start per step. Across runs, every step is
    # in the one-slot pool `duckdb_warehouse` (operations/pools.py, dagster.yaml).
    executor=dg.in_process_executor,
)
