"""The nightly schedule (cron and timezone from settings, running by default)."""

from __future__ import annotations

import dagster as dg

from funnel_pipeline.operations.jobs import nightly_job
from funnel_pipeline.settings import Settings


def nightly_schedule(settings: Settings) -> dg.ScheduleDefinition:
    """`FUNNEL_NIGHTLY_CRON` (default `0 2 * * *`) in `FUNNEL_NIGHTLY_TIMEZONE`
    (default Europe/London, so 02:00 stays 02:00 local across the clock changes)."""
    return dg.ScheduleDefinition(
        name="nightly_schedule",
        job=nightly_job,
        cron_schedule=settings.nightly_cron,
        execution_timezone=settings.nightly_timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every night: load what landed, rebuild, validate, publish.",
    )
