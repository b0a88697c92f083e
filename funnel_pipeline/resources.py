"""The one Dagster resource: where the warehouse and landing folder are, and how to open them."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from funnel_pipeline.settings import Settings


class FunnelWarehouse(dg.ConfigurableResource):
    """Paths and DuckDB session limits; built from `Settings.from_env()` in definitions."""

    landing_dir: str
    duckdb_path: str
    reports_dir: str
    memory_limit: str = "2GB"
    threads: int = 0
    temp_dir: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> FunnelWarehouse:
        return cls(
            landing_dir=str(settings.landing_dir),
            duckdb_path=str(settings.duckdb_path),
            reports_dir=str(settings.reports_dir),
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads,
            temp_dir=settings.duckdb_temp_dir,
        )

    def settings(self) -> Settings:
        """Settings for the step functions: this resource's paths over the environment's rest."""
        import dataclasses

        return dataclasses.replace(
            Settings.from_env(),
            landing_dir=Path(self.landing_dir),
            duckdb_path=Path(self.duckdb_path),
            reports_dir=Path(self.reports_dir),
            duckdb_memory_limit=self.memory_limit,
            duckdb_threads=self.threads,
            duckdb_temp_dir=self.temp_dir,
        )
