"""Bounded storage: chart files, and Dagster runs with their event logs.

Why. Every nightly run whose figures changed writes new chart pictures and a new HTML
report under `<FUNNEL_REPORTS_DIR>/charts/` (~6 MB), with content-hashed names, so that
each materialisation in the Dagster UI keeps showing its own charts (assets/charts.py).
Nothing ever removed them. Runs and their event logs grow too: Dagster OSS has no
automatic run retention.

Charts (`funnel prune-reports`, a systemd timer): a file is deleted when it is older
than `FUNNEL_CHART_RETENTION_DAYS` (30) **and** no longer linked from any of the latest
`FUNNEL_CHART_KEEP_MATERIALIZATIONS` (10) materialisations of any `charts/*` asset. The
links are read from the instance (markdown image links, the report URL and path in the
materialisation metadata), so the charts people can click to from recent runs stay;
older events' links go blank once their pictures are pruned. Only names the chart
writer makes (`<slug>_<16 hex>.png|html`, and its `.tmp_*` leftovers) are touched, and
nothing is pruned while a run is queued or in progress (a run may be about to reuse an
old file, whose name is its content hash).

Runs (`funnel prune-runs`): finished runs created before the cutoff are deleted with
their event logs and captured stdout/stderr; on SQLite the per-run event database file
is removed too (Dagster deletes its rows but leaves the file).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from funnel_pipeline.settings import CHARTS_SUBDIR

if TYPE_CHECKING:
    from dagster import DagsterInstance

#: the asset-key prefix of the chart assets
CHART_KEY_PREFIX = ("charts",)
#: names the chart writer makes: charts/render.py chart_filename, charts/report.py
CHART_FILE = re.compile(r"[a-z0-9_]{1,40}_[0-9a-f]{16}\.(?:png|html)")
#: leftovers of an interrupted atomic write (render._write_atomically: `.tmp_*<suffix>`)
PARTIAL_FILE = re.compile(r"\.tmp_\w+\.(?:png|html)")


@dataclass
class PruneReport:
    """What a prune deleted and kept (files and bytes)."""

    deleted: list[str] = field(default_factory=list)
    deleted_bytes: int = 0
    kept: list[str] = field(default_factory=list)
    kept_bytes: int = 0

    def summary(self) -> str:
        return (f"deleted {len(self.deleted)} file(s), {self.deleted_bytes / 1e6:.1f} MB; "
                f"kept {len(self.kept)} file(s), {self.kept_bytes / 1e6:.1f} MB")


def chart_names_in(texts: Iterable[object]) -> set[str]:
    """Chart file names mentioned in metadata texts (URLs, markdown, paths)."""
    found: set[str] = set()
    for text in texts:
        if isinstance(text, str):
            found.update(m.group(0) for m in re.finditer(
                r"(?<![A-Za-z0-9_])" + CHART_FILE.pattern, text))
    return found


def referenced_chart_files(instance: DagsterInstance, keep_last: int) -> set[str]:
    """File names linked from the latest `keep_last` materialisations of each charts/* asset."""
    names: set[str] = set()
    if keep_last <= 0:
        return names
    for key in instance.get_asset_keys(prefix=list(CHART_KEY_PREFIX)):
        result = instance.fetch_materializations(key, limit=keep_last)
        for record in result.records:
            materialization = record.asset_materialization
            if materialization is None:
                continue
            names |= chart_names_in(getattr(v, "value", v)
                                    for v in materialization.metadata.values())
    return names


def prune_chart_files(charts_dir: Path, keep: set[str], older_than_days: float,
                      now: float | None = None, dry_run: bool = False) -> PruneReport:
    """Delete chart files older than the cutoff and not in `keep`; report what happened."""
    report = PruneReport()
    charts_dir = Path(charts_dir)
    if not charts_dir.is_dir():
        return report
    cutoff = (time.time() if now is None else now) - older_than_days * 86400
    with os.scandir(charts_dir) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            ours = CHART_FILE.fullmatch(entry.name) or PARTIAL_FILE.fullmatch(entry.name)
            if not ours or not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat(follow_symlinks=False)
            if entry.name in keep or stat.st_mtime >= cutoff:
                report.kept.append(entry.name)
                report.kept_bytes += stat.st_size
                continue
            if not dry_run:
                Path(entry.path).unlink(missing_ok=True)
            report.deleted.append(entry.name)
            report.deleted_bytes += stat.st_size
    return report


def prune_reports(instance: DagsterInstance, reports_dir: Path, older_than_days: float,
                  keep_last: int, now: float | None = None, dry_run: bool = False) -> PruneReport:
    """`prune_chart_files` on `<reports_dir>/charts`, keeping what recent runs link to."""
    keep = referenced_chart_files(instance, keep_last)
    return prune_chart_files(Path(reports_dir) / CHARTS_SUBDIR, keep, older_than_days,
                             now=now, dry_run=dry_run)


def carry_over_charts(old_reports: Path, new_reports: Path) -> int:
    """Before `funnel rebuild` swaps in its new reports folder: bring the old chart files
    the new folder lacks, so earlier materialisations' links keep working (they are
    pruned by age like any other). Hard links (same file system, no copy, mtime kept),
    else copies. Returns how many files were carried over."""
    old_dir, new_dir = Path(old_reports) / CHARTS_SUBDIR, Path(new_reports) / CHARTS_SUBDIR
    if not old_dir.is_dir():
        return 0
    new_dir.mkdir(parents=True, exist_ok=True)
    carried = 0
    for path in old_dir.iterdir():
        target = new_dir / path.name
        if not CHART_FILE.fullmatch(path.name) or target.exists() or not path.is_file():
            continue
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
        carried += 1
    return carried


@dataclass
class RunPruneReport:
    """Runs deleted by `prune_runs`."""

    run_ids: list[str] = field(default_factory=list)
    event_db_bytes: int = 0


def prune_runs(instance: DagsterInstance, created_before: datetime,
               dry_run: bool = False) -> RunPruneReport:
    """Delete finished runs created before `created_before`: records, event logs, captured
    stdout/stderr and (SQLite) the per-run event database file."""
    import dagster as dg

    finished = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE,
                dg.DagsterRunStatus.CANCELED]
    records = instance.get_run_records(filters=dg.RunsFilter(
        statuses=finished, created_before=created_before.astimezone(UTC)))
    report = RunPruneReport()
    shard_path = getattr(instance.event_log_storage, "path_for_shard", None)
    for record in records:
        run_id = record.dagster_run.run_id
        report.run_ids.append(run_id)
        if dry_run:
            continue
        try:
            instance.compute_log_manager.delete_logs(prefix=[run_id])
        except Exception:  # noqa: BLE001, S110 - not every log manager can delete by prefix
            pass
        instance.delete_run(run_id)
        if shard_path is not None:  # SQLite: one database file per run, left behind
            shard = Path(shard_path(run_id))
            for leftover in (shard, Path(f"{shard}-wal"), Path(f"{shard}-shm")):
                if leftover.is_file():
                    report.event_db_bytes += leftover.stat().st_size
                    leftover.unlink(missing_ok=True)
            # the storage remembers which shards it created its tables in: forget this
            # one, so a later look-up of the deleted run finds no events instead of no
            # table (a private set of dagster 1.13's SqliteEventLogStorage; tested)
            initialised = getattr(instance.event_log_storage, "_initialized_dbs", None)
            if isinstance(initialised, set):
                initialised.discard(run_id)
    return report
