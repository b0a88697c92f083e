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
    #: the force's funnel (docs/CONTRACT.md section 8, docs/CONFIGURATION.md); empty = built-in
    config_path: str = field(default_factory=lambda: _env("FUNNEL_CONFIG", ""))
    #: DuckDB memory cap and spill folder (keeps a 10M-event run inside a few GB)
    duckdb_memory_limit: str = field(default_factory=lambda: _env("FUNNEL_DUCKDB_MEMORY_LIMIT", "2GB"))
    duckdb_threads: int = field(default_factory=lambda: int(_env("FUNNEL_DUCKDB_THREADS", "0")))
    duckdb_temp_dir: str = field(default_factory=lambda: _env("FUNNEL_DUCKDB_TEMP_DIR", ""))
    #: how long a step waits for another process to release the DuckDB file
    duckdb_lock_wait_seconds: float = field(
        default_factory=lambda: float(_env("FUNNEL_DUCKDB_LOCK_WAIT_SECONDS", "120")))
    #: base URL the viewer's browser uses to fetch chart PNGs (see `funnel ui`)
    chart_base_url: str = field(default_factory=lambda: _env("FUNNEL_CHART_BASE_URL", "http://127.0.0.1:3031"))
    #: groups with fewer applications than this are marked too small to read in charts
    chart_min_group_size: int = field(default_factory=lambda: int(_env("FUNNEL_CHART_MIN_GROUP_SIZE", "10")))
    #: validation window for occurred_at: not before this date, not in the future
    earliest_event_date: str = field(default_factory=lambda: _env("FUNNEL_EARLIEST_EVENT_DATE", "2000-01-01"))
    #: data-quality warnings (issue 4; expectations/*.json): the highest share of this
    #: run's rows that may be rejected / orphan applications / out-of-sequence
    #: applications / people with an unrecognised characteristic value before the
    #: check warns (fractions in [0, 1]; warnings never block publication)
    max_rejected_share: float = field(
        default_factory=lambda: float(_env("FUNNEL_MAX_REJECTED_SHARE", "0.05")))
    max_orphan_share: float = field(
        default_factory=lambda: float(_env("FUNNEL_MAX_ORPHAN_SHARE", "0.05")))
    max_out_of_sequence_share: float = field(
        default_factory=lambda: float(_env("FUNNEL_MAX_OUT_OF_SEQUENCE_SHARE", "0.05")))
    max_unrecognised_share: float = field(
        default_factory=lambda: float(_env("FUNNEL_MAX_UNRECOGNISED_SHARE", "0.05")))

    # --- operations (issue 7; docs/OPERATIONS.md) -------------------------------------
    #: nightly schedule: cron expression and the time zone it is read in
    nightly_cron: str = field(default_factory=lambda: _env("FUNNEL_NIGHTLY_CRON", "0 2 * * *"))
    nightly_timezone: str = field(default_factory=lambda: _env("FUNNEL_NIGHTLY_TIMEZONE", "Europe/London"))
    #: landing sensor: seconds between folder scans
    landing_sensor_interval_seconds: int = field(
        default_factory=lambda: int(_env("FUNNEL_LANDING_SENSOR_INTERVAL_SECONDS", "60")))
    #: how long a file must sit unchanged (by mtime) before it counts as delivered, for
    #: the sensor and for every run's load (a run waits for younger files)
    landing_settle_seconds: int = field(
        default_factory=lambda: int(_env("FUNNEL_LANDING_SETTLE_SECONDS", "10")))
    #: how long a run waits for files still changing before it leaves them for a later run
    landing_max_wait_seconds: int = field(
        default_factory=lambda: int(_env("FUNNEL_LANDING_MAX_WAIT_SECONDS", "60")))
    #: step retries (any step failure; meant for a DuckDB file locked beyond the wait)
    step_retries: int = field(default_factory=lambda: int(_env("FUNNEL_STEP_RETRIES", "2")))
    step_retry_delay_seconds: int = field(
        default_factory=lambda: int(_env("FUNNEL_STEP_RETRY_DELAY_SECONDS", "30")))
    #: failure alerts: SMTP e-mail (host + from + to enable it) and/or a JSON webhook
    alert_smtp_host: str = field(default_factory=lambda: _env("FUNNEL_ALERT_SMTP_HOST", ""))
    alert_smtp_port: int = field(default_factory=lambda: int(_env("FUNNEL_ALERT_SMTP_PORT", "25")))
    alert_smtp_from: str = field(default_factory=lambda: _env("FUNNEL_ALERT_SMTP_FROM", ""))
    #: comma-separated recipients
    alert_smtp_to: str = field(default_factory=lambda: _env("FUNNEL_ALERT_SMTP_TO", ""))
    alert_smtp_user: str = field(default_factory=lambda: _env("FUNNEL_ALERT_SMTP_USER", ""))
    alert_smtp_password: str = field(default_factory=lambda: _env("FUNNEL_ALERT_SMTP_PASSWORD", ""),
                                     repr=False)
    alert_smtp_starttls: bool = field(
        default_factory=lambda: _env("FUNNEL_ALERT_SMTP_STARTTLS", "false").lower() in ("1", "true", "yes"))
    alert_webhook_url: str = field(default_factory=lambda: _env("FUNNEL_ALERT_WEBHOOK_URL", ""))
    #: base URL of the Dagster UI, for links in alerts
    ui_base_url: str = field(default_factory=lambda: _env("FUNNEL_UI_BASE_URL", "http://127.0.0.1:3000"))

    # --- unattended nights (issue 19; docs/OPERATIONS.md) ------------------------------
    #: alerts over implicit TLS (SMTPS, usually port 465) instead of plain / STARTTLS
    alert_smtp_ssl: bool = field(
        default_factory=lambda: _env("FUNNEL_ALERT_SMTP_SSL", "false").lower() in ("1", "true", "yes"))
    #: PEM file of the CA(s) to trust for the mail server's certificate instead of the
    #: system store (an internal CA); the certificate is verified either way
    alert_smtp_ca_file: str = field(default_factory=lambda: _env("FUNNEL_ALERT_SMTP_CA_FILE", ""))

    #: chart pictures and reports (<reports_dir>/charts) older than this many days may be
    #: pruned by `funnel prune-reports`, unless one of the latest
    #: `chart_keep_materializations` materialisations of a chart asset links them
    chart_retention_days: float = field(
        default_factory=lambda: float(_env("FUNNEL_CHART_RETENTION_DAYS", "30")))
    chart_keep_materializations: int = field(
        default_factory=lambda: int(_env("FUNNEL_CHART_KEEP_MATERIALIZATIONS", "10")))

    @classmethod
    def from_env(cls) -> Settings:
        return cls()

    def as_dict(self) -> dict[str, str]:
        return {f.name: ("***" if f.name == "alert_smtp_password" and getattr(self, f.name)
                         else str(getattr(self, f.name))) for f in fields(self)}
