"""Jobs: `nightly` materialises everything (the schedule's job)."""

from __future__ import annotations

import dagster as dg

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    description="Load new landing files, rebuild core incrementally, publish every mart.",
)
