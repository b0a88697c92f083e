"""The one Dagster resource: where the warehouse, landing folder, reports and funnel
configuration are, and how to open the warehouse.

Its fields are shown in the UI (Deployment → Resources), with `EnvVar` where the value
came from the environment, so an engineer can see which file a run wrote. The values
are read once, when the definitions load (`from_settings`); the other settings (limits,
thresholds, alert targets) come from the same `Settings` object.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from funnel_pipeline import warehouse
from funnel_pipeline.settings import Settings

#: resource field → the environment variable it comes from
_FIELDS_FROM_ENV = {
    "landing_dir": "FUNNEL_LANDING_DIR",
    "duckdb_path": "FUNNEL_DUCKDB_PATH",
    "reports_dir": "FUNNEL_REPORTS_DIR",
    "config_path": "FUNNEL_CONFIG",
}


class FunnelWarehouse(dg.ConfigurableResource):
    """Paths and DuckDB session limits of one deployment."""

    landing_dir: str
    duckdb_path: str
    reports_dir: str
    config_path: str = ""
    memory_limit: str = "2GB"
    threads: int = 0
    temp_dir: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> FunnelWarehouse:
        values: dict = {
            "landing_dir": str(settings.landing_dir),
            "duckdb_path": str(settings.duckdb_path),
            "reports_dir": str(settings.reports_dir),
            "config_path": settings.config_path,
            "memory_limit": settings.duckdb_memory_limit,
            "threads": settings.duckdb_threads,
            "temp_dir": settings.duckdb_temp_dir,
        }
        for field, variable in _FIELDS_FROM_ENV.items():
            # shown as EnvVar only where the environment is where the value came from (a
            # rebuild passes another database path than FUNNEL_DUCKDB_PATH's)
            if values[field] and os.environ.get(variable, "").strip() == values[field]:
                values[field] = dg.EnvVar(variable)
        return cls(**values)

    def settings(self) -> Settings:
        """Settings for the step functions: this resource's paths over the rest."""
        return dataclasses.replace(
            Settings.from_env(),
            landing_dir=Path(self.landing_dir),
            duckdb_path=Path(self.duckdb_path),
            reports_dir=Path(self.reports_dir),
            config_path=self.config_path,
            duckdb_memory_limit=self.memory_limit,
            duckdb_threads=self.threads,
            duckdb_temp_dir=self.temp_dir,
        )

    @contextmanager
    def open(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The warehouse, opened for a step (read-only for metadata and charts)."""
        with warehouse.open_warehouse(self.settings(), read_only=read_only) as con:
            yield con
