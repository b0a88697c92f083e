"""Environment → typed settings, read in this one place.

Every knob a data engineer may turn is an environment variable with a safe default, so
the demo runs with none set and a deployment sets only what differs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value if value else default


@dataclass(frozen=True)
class Settings:
    #: folder the source systems drop files into (never modified by us)
    landing_dir: Path = field(default_factory=lambda: Path(_env("FUNNEL_LANDING_DIR", "data/landing")))
    #: the one DuckDB file holding applicant-level data
    duckdb_path: Path = field(default_factory=lambda: Path(_env("FUNNEL_DUCKDB_PATH", "data/funnel.duckdb")))
    #: aggregates only: charts, validation reports, publication exports
    reports_dir: Path = field(default_factory=lambda: Path(_env("FUNNEL_REPORTS_DIR", "data/reports")))
    #: DuckDB memory cap and spill folder (keeps a 10M-event run inside a few GB)
    duckdb_memory_limit: str = field(default_factory=lambda: _env("FUNNEL_DUCKDB_MEMORY_LIMIT", "2GB"))
    duckdb_threads: int = field(default_factory=lambda: int(_env("FUNNEL_DUCKDB_THREADS", "0")))
    duckdb_temp_dir: str = field(default_factory=lambda: _env("FUNNEL_DUCKDB_TEMP_DIR", ""))
    #: base URL the viewer's browser uses to fetch chart PNGs (see `funnel ui`)
    chart_base_url: str = field(default_factory=lambda: _env("FUNNEL_CHART_BASE_URL", "http://127.0.0.1:3031"))
    #: groups with fewer applications than this are marked too small to read in charts
    chart_min_group_size: int = field(default_factory=lambda: int(_env("FUNNEL_CHART_MIN_GROUP_SIZE", "10")))
    #: publication: counts from 1 to threshold-1 are suppressed as [c]
    suppression_threshold: int = field(default_factory=lambda: int(_env("FUNNEL_SUPPRESSION_THRESHOLD", "5")))
    #: validation window for occurred_at: not before this date, not in the future
    earliest_event_date: str = field(default_factory=lambda: _env("FUNNEL_EARLIEST_EVENT_DATE", "2000-01-01"))

    @classmethod
    def from_env(cls) -> "Settings":
        return cls()

    def as_dict(self) -> dict[str, str]:
        return {f.name: str(getattr(self, f.name)) for f in fields(self)}
