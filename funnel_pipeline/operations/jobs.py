"""Jobs: `nightly` materialises everything (the schedule's job); `ingest` is what the
landing sensor starts when files arrive.

`ingest` = the raw, core, quality and marts groups: new rows reach the published marts
within minutes of landing. The publish group (annual publication files) and anything
added downstream later are refreshed by `nightly`, so a daytime delivery does not rewrite
files people may be reading. Rebuilding from scratch is `funnel rebuild` (cli.py), not a job:
it builds a new DuckDB file and swaps it in, which a Dagster step cannot do safely.

Both jobs retry a failed step (`FUNNEL_STEP_RETRIES`, default 2, after
`FUNNEL_STEP_RETRY_DELAY_SECONDS`, default 30 s: Dagster's exponential backoff waits (2^n − 1) × that, i.e. 30 s then 90 s). The intended case is a DuckDB
file locked by another process for longer than `warehouse.connect` waits (120 s), which
ends in `DatabaseLockedError`. Dagster's RetryPolicy cannot filter by exception type,
so other failures are retried too; that is safe because every step is one transaction
and picks up whatever is left unprocessed, and it only delays the failure alert.
When the retries run out the run fails and `failure_alerts` reports the step, the
error class, its first line and the number of attempts.
"""

from __future__ import annotations

import dagster as dg

from funnel_pipeline.settings import Settings

_settings = Settings.from_env()

#: asset groups the landing sensor's `ingest` job materialises
INGEST_GROUPS: tuple[str, ...] = ("config", "raw", "core", "quality", "marts")
#: tag on every run of these jobs (the sensor and `funnel rebuild` look for them)
WRITER_TAG = "funnel/writes_duckdb"


def retry_policy(settings: Settings) -> dg.RetryPolicy | None:
    if settings.step_retries <= 0:
        return None
    return dg.RetryPolicy(max_retries=settings.step_retries,
                          delay=settings.step_retry_delay_seconds,
                          backoff=dg.Backoff.EXPONENTIAL)


nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    description="Load new landing files, rebuild core incrementally, publish every mart.",
    tags={WRITER_TAG: "true"},
    op_retry_policy=retry_policy(_settings),
)

ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups(*INGEST_GROUPS),
    description="Started by the landing sensor: load the new files and republish the marts "
                "(raw, core, quality, marts; the publish group waits for `nightly`).",
    tags={WRITER_TAG: "true"},
    op_retry_policy=retry_policy(_settings),
)
