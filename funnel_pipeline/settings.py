"""Environment → typed settings, read in this one place.

Every knob a data engineer may turn is an environment variable with a safe default, so
the demo runs with none set and a deployment sets only what differs. Each field names
its variable, default and meaning once (`_from_env`), so `funnel <command> --help` and
the documentation list them from here instead of from a copy that drifts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

#: what each setting is about; `funnel <command> --help` lists the groups it reads
PIPELINE, QUALITY, SCHEDULE, ALERTS, RETENTION, UI = (
    "pipeline", "quality", "schedule", "alerts", "retention", "ui")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value if value else default


def _flag(text: str) -> bool:
    return text.lower() in ("1", "true", "yes")


def _from_env(env: str, default: str, help: str, group: str,
              convert: Callable[[str], Any] = str, secret: bool = False) -> dict[str, Any]:
    """`field()` arguments: read `env` (blank or unset: `default`), converted by `convert`;
    the variable, default and meaning kept as the field's metadata."""
    return {"default_factory": lambda: convert(_env(env, default)), "repr": not secret,
            "metadata": {"env": env, "default": default, "help": help, "group": group,
                         "secret": secret}}


#: folders under FUNNEL_REPORTS_DIR: chart pictures and reports; the auditor report
CHARTS_SUBDIR = "charts"
QUALITY_SUBDIR = "quality"


@dataclass(frozen=True)
class Settings:
    landing_dir: Path = field(**_from_env(
        "FUNNEL_LANDING_DIR", "data/landing", "folder the source systems drop files into "
        "(never modified by us)", PIPELINE, Path))
    duckdb_path: Path = field(**_from_env(
        "FUNNEL_DUCKDB_PATH", "data/funnel.duckdb", "the one DuckDB file holding "
        "applicant-level data", PIPELINE, Path))
    reports_dir: Path = field(**_from_env(
        "FUNNEL_REPORTS_DIR", "data/reports", "charts, validation reports, publication "
        "exports (aggregates only)", PIPELINE, Path))
    config_path: str = field(**_from_env(
        "FUNNEL_CONFIG", "", "the force's funnel configuration (TOML, docs/CONFIGURATION.md); "
        "empty = the built-in funnel", PIPELINE))
    duckdb_memory_limit: str = field(**_from_env(
        "FUNNEL_DUCKDB_MEMORY_LIMIT", "2GB", "DuckDB memory cap (keeps a 10M-event run inside "
        "a few GB)", PIPELINE))
    duckdb_threads: int = field(**_from_env(
        "FUNNEL_DUCKDB_THREADS", "0", "DuckDB threads (0 = one per core)", PIPELINE, int))
    duckdb_temp_dir: str = field(**_from_env(
        "FUNNEL_DUCKDB_TEMP_DIR", "", "DuckDB spill folder (empty = beside the database)",
        PIPELINE))
    duckdb_lock_wait_seconds: float = field(**_from_env(
        "FUNNEL_DUCKDB_LOCK_WAIT_SECONDS", "120", "how long a step waits for another process "
        "to release the DuckDB file", PIPELINE, float))
    chart_base_url: str = field(**_from_env(
        "FUNNEL_CHART_BASE_URL", "http://127.0.0.1:3031", "base URL the viewer's browser uses "
        "to fetch chart pictures (see `funnel ui`)", UI))
    chart_min_group_size: int = field(**_from_env(
        "FUNNEL_CHART_MIN_GROUP_SIZE", "10", "groups with fewer applications are marked too "
        "small to read in charts", PIPELINE, int))
    earliest_event_date: str = field(**_from_env(
        "FUNNEL_EARLIEST_EVENT_DATE", "2000-01-01", "validation window for occurred_at: not "
        "before this date, not in the future", QUALITY))
    # data-quality warnings (issue 4; expectations/*.json): the highest share of this run's
    # rows that may be rejected / orphan applications / out-of-sequence applications /
    # people with an unrecognised characteristic value before the check warns (fractions
    # in [0, 1]; warnings never block publication)
    max_rejected_share: float = field(**_from_env(
        "FUNNEL_MAX_REJECTED_SHARE", "0.05", "share of rejected rows before a warning",
        QUALITY, float))
    max_orphan_share: float = field(**_from_env(
        "FUNNEL_MAX_ORPHAN_SHARE", "0.05", "share of orphan applications before a warning",
        QUALITY, float))
    max_out_of_sequence_share: float = field(**_from_env(
        "FUNNEL_MAX_OUT_OF_SEQUENCE_SHARE", "0.05", "share of out-of-sequence applications "
        "before a warning", QUALITY, float))
    max_unrecognised_share: float = field(**_from_env(
        "FUNNEL_MAX_UNRECOGNISED_SHARE", "0.05", "share of people with an unrecognised "
        "characteristic value before a warning", QUALITY, float))

    # --- operations (issue 7; docs/OPERATIONS.md) -------------------------------------
    nightly_cron: str = field(**_from_env(
        "FUNNEL_NIGHTLY_CRON", "0 2 * * *", "cron expression of the nightly schedule",
        SCHEDULE))
    nightly_timezone: str = field(**_from_env(
        "FUNNEL_NIGHTLY_TIMEZONE", "Europe/London", "time zone the nightly cron is read in",
        SCHEDULE))
    landing_sensor_interval_seconds: int = field(**_from_env(
        "FUNNEL_LANDING_SENSOR_INTERVAL_SECONDS", "60", "seconds between landing-folder scans",
        SCHEDULE, int))
    landing_settle_seconds: int = field(**_from_env(
        "FUNNEL_LANDING_SETTLE_SECONDS", "10", "how long a file must sit unchanged (by mtime) "
        "before it counts as delivered, for the sensor and for every run's load", PIPELINE, int))
    landing_max_wait_seconds: int = field(**_from_env(
        "FUNNEL_LANDING_MAX_WAIT_SECONDS", "60", "how long a run waits for files still "
        "changing before it leaves them for a later run", PIPELINE, int))
    step_retries: int = field(**_from_env(
        "FUNNEL_STEP_RETRIES", "2", "retries of a failed step (meant for a DuckDB file locked "
        "beyond the wait)", PIPELINE, int))
    step_retry_delay_seconds: int = field(**_from_env(
        "FUNNEL_STEP_RETRY_DELAY_SECONDS", "30", "first retry delay; Dagster doubles it "
        "(30 s, then 90 s)", PIPELINE, int))
    # failure alerts: SMTP e-mail (host + from + to enable it) and/or a JSON webhook
    alert_smtp_host: str = field(**_from_env(
        "FUNNEL_ALERT_SMTP_HOST", "", "mail server for failure alerts", ALERTS))
    alert_smtp_port: int = field(**_from_env(
        "FUNNEL_ALERT_SMTP_PORT", "25", "mail server port", ALERTS, int))
    alert_smtp_from: str = field(**_from_env(
        "FUNNEL_ALERT_SMTP_FROM", "", "sender address of failure alerts", ALERTS))
    alert_smtp_to: str = field(**_from_env(
        "FUNNEL_ALERT_SMTP_TO", "", "recipients of failure alerts (comma-separated)", ALERTS))
    alert_smtp_user: str = field(**_from_env(
        "FUNNEL_ALERT_SMTP_USER", "", "mail server login (needs STARTTLS or SSL)", ALERTS))
    alert_smtp_password: str = field(**_from_env(
        "FUNNEL_ALERT_SMTP_PASSWORD", "", "mail server password", ALERTS, secret=True))
    alert_smtp_starttls: bool = field(**_from_env(
        "FUNNEL_ALERT_SMTP_STARTTLS", "false", "upgrade the mail connection with STARTTLS",
        ALERTS, _flag))
    alert_webhook_url: str = field(**_from_env(
        "FUNNEL_ALERT_WEBHOOK_URL", "", "URL failure alerts are POSTed to as JSON", ALERTS))
    ui_base_url: str = field(**_from_env(
        "FUNNEL_UI_BASE_URL", "http://127.0.0.1:3000", "base URL of the Dagster UI, for "
        "links in alerts", ALERTS))

    # --- unattended nights (issue 19; docs/OPERATIONS.md) ------------------------------
    alert_smtp_ssl: bool = field(**_from_env(
        "FUNNEL_ALERT_SMTP_SSL", "false", "alerts over implicit TLS (SMTPS, usually port 465) "
        "instead of plain / STARTTLS", ALERTS, _flag))
    alert_smtp_ca_file: str = field(**_from_env(
        "FUNNEL_ALERT_SMTP_CA_FILE", "", "PEM file of the CA(s) to trust for the mail "
        "server's certificate instead of the system store (verified either way)", ALERTS))
    chart_retention_days: float = field(**_from_env(
        "FUNNEL_CHART_RETENTION_DAYS", "30", "age in days after which `funnel prune-reports` "
        "may delete a chart file no recent materialisation links", RETENTION, float))
    chart_keep_materializations: int = field(**_from_env(
        "FUNNEL_CHART_KEEP_MATERIALIZATIONS", "10", "latest materialisations per chart asset "
        "whose files always stay", RETENTION, int))
    marts_max_age_hours: float = field(**_from_env(
        "FUNNEL_MARTS_MAX_AGE_HOURS", "26", "the marts' freshness policy: the Dagster UI shows "
        "them failing freshness when their last update is older than this (a day and the "
        "night's run; 74 for a weekday-only schedule)", SCHEDULE, float))

    @classmethod
    def from_env(cls) -> Settings:
        return cls()

    @property
    def charts_dir(self) -> Path:
        """Chart PNGs and the interactive reports (served by the chart server)."""
        return Path(self.reports_dir) / CHARTS_SUBDIR

    @property
    def quality_dir(self) -> Path:
        """The offline auditor report (served by the chart server under /quality/)."""
        return Path(self.reports_dir) / QUALITY_SUBDIR

    def as_dict(self) -> dict[str, str]:
        return {f.name: ("***" if f.metadata.get("secret") and getattr(self, f.name)
                         else str(getattr(self, f.name))) for f in fields(self)}


def environment_variables(*groups: str, names: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    """(variable, default, meaning) of every setting in these groups, and of the variables
    `names`, in field order."""
    return [(f.metadata["env"], f.metadata["default"], f.metadata["help"])
            for f in fields(Settings)
            if f.metadata.get("group") in groups or f.metadata.get("env") in names]
