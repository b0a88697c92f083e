"""The landing sensor: start an `ingest` run when new files arrive in the landing folder.

Each tick is a cheap folder scan (names, sizes, mtimes; no file is opened):
- a file counts once its mtime is `landing_settle_seconds` old (senders should still
  write under a `.tmp`/`.part` name and rename; those names are ignored);
- the cursor is a JSON object {file name: [size, mtime_ns]} of files already handled,
  so the same files never start a second run (the run key is derived from them too);
- while any run is queued or in progress (every job here writes the one DuckDB file)
  the tick skips with a reason and leaves the cursor alone, so files that arrived
  meanwhile are looked at again on the next tick;
- before starting a run the sensor tries a read-only look at `raw.landing_files`
  (no waiting: if the file is missing or locked it just starts the run) and drops
  names already recorded there, so files loaded by the nightly run start nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import dagster as dg

from funnel_pipeline.operations.jobs import ingest_job
from funnel_pipeline.raw import is_in_flight
from funnel_pipeline.settings import Settings

#: run statuses during which another run must not be started (they hold or will hold the file)
BUSY_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def scan_landing(landing_dir: Path, settle_seconds: float, now: float | None = None
                 ) -> tuple[dict[str, list[int]], int]:
    """({name: [size, mtime_ns]} of settled regular files, number still settling)."""
    now = time.time() if now is None else now
    settled: dict[str, list[int]] = {}
    settling = 0
    with os.scandir(landing_dir) as entries:
        for entry in entries:
            if is_in_flight(entry.name):
                continue
            try:
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if now - stat.st_mtime < settle_seconds:
                settling += 1
                continue
            settled[entry.name] = [stat.st_size, stat.st_mtime_ns]
    return settled, settling


def loaded_file_names(duckdb_path: Path) -> set[str] | None:
    """Names recorded in raw.landing_files, or None when the file cannot be read right now."""
    if not Path(duckdb_path).exists():
        return set()
    from funnel_pipeline import warehouse

    try:
        with warehouse.connect(duckdb_path, read_only=True, lock_wait_seconds=0) as con:
            try:
                return {name for (name,) in con.execute(
                    "SELECT file_name FROM raw.landing_files "
                    "WHERE NOT (status = 'failed' AND coalesce(reason, '') LIKE 'unreadable:%')"
                ).fetchall()}
            except Exception:  # noqa: BLE001 - no manifest yet
                return set()
    except Exception:  # noqa: BLE001 - locked by a writer or a client: let the run decide
        return None


def busy_run_ids(instance: dg.DagsterInstance) -> list[str]:
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=BUSY_STATUSES), limit=5)
    return [r.dagster_run.run_id for r in records]


def landing_sensor(settings: Settings) -> dg.SensorDefinition:
    landing_dir = Path(settings.landing_dir)
    duckdb_path = Path(settings.duckdb_path)

    @dg.sensor(
        name="landing_sensor",
        job=ingest_job,
        minimum_interval_seconds=max(1, settings.landing_sensor_interval_seconds),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts `ingest` when new files land (FUNNEL_LANDING_DIR); "
                    "skips while any run is queued or in progress.",
    )
    def _landing_sensor(context: dg.SensorEvaluationContext):
        if not landing_dir.is_dir():
            return dg.SkipReason(f"landing folder {landing_dir} does not exist")
        seen: dict[str, list[int]] = json.loads(context.cursor) if context.cursor else {}
        current, settling = scan_landing(landing_dir, settings.landing_settle_seconds)
        new = sorted(name for name, stamp in current.items() if seen.get(name) != stamp)
        if not new:
            note = f" ({settling} file(s) still settling)" if settling else ""
            return dg.SkipReason(f"no new files in the landing folder{note}")
        busy = busy_run_ids(context.instance)
        if busy:
            return dg.SkipReason(
                f"{len(new)} new file(s) waiting: run {busy[0]} is queued or in progress")
        loaded = loaded_file_names(duckdb_path)
        if loaded is not None:
            new = [name for name in new if name not in loaded]
        # everything scanned now counts as handled (new ones go to the run below)
        cursor = json.dumps(current, sort_keys=True)
        if not new:
            context.update_cursor(cursor)
            return dg.SkipReason("the new file(s) are already loaded in raw.landing_files")
        run_key = hashlib.sha256(
            json.dumps({n: current[n] for n in new}, sort_keys=True).encode()).hexdigest()[:32]
        context.update_cursor(cursor)
        context.log.info(f"{len(new)} new landing file(s): starting ingest")
        return dg.RunRequest(run_key=f"landing-{run_key}",
                             tags={"funnel/trigger": "landing_sensor",
                                   "funnel/new_files": str(len(new))})

    return _landing_sensor
