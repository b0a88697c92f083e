"""The marts' freshness policy: the Dagster UI says when they are older than a night and a day.

Why. A nightly run that failed, or a schedule that stopped, leaves the marts as they were
and nothing else in the UI changes: people read yesterday's (or last week's) figures as
today's. Dagster's own freshness policy (1.11+; the daemon's freshness daemon evaluates
it every 30 s) marks each `marts/*` asset "Fresh" while its last materialisation is
younger than `FUNNEL_MARTS_MAX_AGE_HOURS` (26: a day, plus two hours for the 02:00 run
and its retries) and "Failing freshness" (asset health: degraded) once it is older; a
successful run, nightly or `ingest`, makes it fresh again.

A time window rather than Dagster's cron policy: a cron policy whose deadline is the
schedule's own tick flags a missed night only at the *next* tick (a day late), and one
with a later deadline would have to rewrite any cron expression a force configures. The
window assumes a run every day; with a weekday-only schedule set the setting to 74
(Friday's run to Monday's, plus two hours).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import dagster as dg

from funnel_pipeline.settings import Settings

#: the asset group whose freshness is watched (assets/marts.py)
MARTS_GROUP = "marts"


def marts_freshness_policy(settings: Settings) -> dg.FreshnessPolicy:
    """Failing once the last materialisation is older than `marts_max_age_hours`."""
    return dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=settings.marts_max_age_hours))


def with_marts_freshness(assets: Iterable[Any], settings: Settings) -> Sequence[Any]:
    """The asset definitions, with the freshness policy on every spec of the marts group."""
    policy = marts_freshness_policy(settings)
    return dg.map_asset_specs(
        lambda spec: dg.apply_freshness_policy(spec, policy)
        if spec.group_name == MARTS_GROUP else spec, assets)
