"""The nightly schedule (cron and timezone configurable, running by default)."""

from __future__ import annotations

import os

import dagster as dg

from funnel_pipeline.operations.jobs import nightly_job
from funnel_pipeline.settings import Settings


def nightly_schedule(settings: Settings) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="nightly_schedule",
        job=nightly_job,
        cron_schedule=os.environ.get("FUNNEL_NIGHTLY_CRON", "0 2 * * *"),
        execution_timezone=os.environ.get("FUNNEL_NIGHTLY_TIMEZONE", "Europe/London"),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every night: load what landed, rebuild, validate, publish.",
    )
