"""Issue 19: bounded storage.

- chart files: pruned after an age unless linked from the latest N materialisations of
  a charts/* asset (fast: materialisations recorded by hand; slow: the real nightly job
  twice and `funnel rebuild`, which keeps the older night's links working);
- runs and their event logs: `prune_runs` deletes finished runs before a cutoff with
  their events, captured logs and SQLite per-run database, and keeps newer ones.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from conftest import materialize_all
from ops_helpers import copy_landing
from test_operations_kill import FIRST_NIGHT, LATE

from funnel_pipeline import cli
from funnel_pipeline.operations import retention

DAY = 86400.0
HASHES = [f"{i:016x}" for i in range(1, 20)]


def _file(folder: Path, name: str, age_days: float, size: int = 1000) -> Path:
    path = folder / name
    path.write_bytes(b"x" * size)
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


def _materialise(instance: dg.DagsterInstance, asset: str, pngs: list[str], report: str) -> None:
    markdown = "\n\n".join([f"[Interactive report (all charts)](http://h:3031/{report})",
                            *(f"![Chart](http://h:3031/{p})" for p in pngs)])
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset_key=["charts", asset], metadata={
            "charts": dg.MetadataValue.md(markdown),
            "report": dg.MetadataValue.url(f"http://h:3031/{report}"),
            "report_file": dg.MetadataValue.path(f"/var/lib/funnel/reports/charts/{report}"),
            "chart_count": len(pngs)}))


def test_the_pattern_and_folder_are_the_chart_writers(tmp_path):
    import plotly.graph_objects as go

    from funnel_pipeline.charts import render, report
    from funnel_pipeline.settings import Settings

    assert Settings(reports_dir=tmp_path).charts_dir == tmp_path / retention.CHARTS_SUBDIR
    figure = go.Figure(go.Bar(x=["a"], y=[1]))
    assert retention.CHART_FILE.fullmatch(render.chart_filename("Pass rates: sex", figure))
    html = report.write_html_report({"Funnel": figure}, tmp_path)
    assert retention.CHART_FILE.fullmatch(html.name)


def test_old_unlinked_files_go_linked_and_young_ones_stay(dagster_home, tmp_path):
    instance = dg.DagsterInstance.get()
    charts = tmp_path / "reports" / "charts"
    charts.mkdir(parents=True)
    h = HASHES
    files = {
        "old_in_latest": _file(charts, f"funnel_{h[0]}.png", 90),
        "old_report_in_latest": _file(charts, f"report_{h[1]}.html", 90, size=5000),
        "old_in_second_latest": _file(charts, f"pass_rates_sex_{h[2]}.png", 60),
        "old_only_in_oldest": _file(charts, f"funnel_{h[3]}.png", 60),
        "old_other_asset_latest": _file(charts, f"campaigns_sex_{h[4]}.png", 60),
        "young_unlinked": _file(charts, f"funnel_{h[5]}.png", 1),
        "old_unlinked": _file(charts, f"ratios_sex_{h[6]}.png", 45),
        "old_partial_write": _file(charts, ".tmp_k2j3h4.png", 45),
        "not_ours": _file(charts, "README.txt", 400),
    }
    _materialise(instance, "funnel", [files["old_only_in_oldest"].name], f"report_{h[7]}.html")
    _materialise(instance, "funnel", [files["old_in_second_latest"].name], f"report_{h[7]}.html")
    _materialise(instance, "funnel", [files["old_in_latest"].name],
                 files["old_report_in_latest"].name)
    _materialise(instance, "trends", [files["old_other_asset_latest"].name], f"report_{h[7]}.html")

    report = retention.prune_reports(instance, tmp_path / "reports", older_than_days=30,
                                     keep_last=2)
    gone = {k for k, p in files.items() if not p.exists()}
    assert gone == {"old_only_in_oldest", "old_unlinked", "old_partial_write"}
    assert report.deleted_bytes == 3 * 1000 and len(report.kept) == 5
    assert report.kept_bytes == 4 * 1000 + 5000

    # keep_last=1: the second-latest link no longer protects its file
    retention.prune_reports(instance, tmp_path / "reports", older_than_days=30, keep_last=1)
    assert not files["old_in_second_latest"].exists() and files["old_in_latest"].exists()
    # a dry run deletes nothing
    dry = retention.prune_reports(instance, tmp_path / "reports", older_than_days=0,
                                  keep_last=0, dry_run=True)
    assert len(dry.deleted) == 4 and all(charts.joinpath(n).exists() for n in dry.deleted)


def test_cli_prune_reports_uses_the_settings(dagster_home, tmp_path, monkeypatch, capsys):
    charts = tmp_path / "reports" / "charts"
    charts.mkdir(parents=True)
    old = _file(charts, f"funnel_{HASHES[0]}.png", 20)
    monkeypatch.setenv("FUNNEL_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("FUNNEL_CHART_RETENTION_DAYS", "30")
    assert cli.main(["prune-reports", "--wait", "0"]) == 0
    assert old.exists() and "deleted 0 file(s)" in capsys.readouterr().out
    monkeypatch.setenv("FUNNEL_CHART_RETENTION_DAYS", "7")
    assert cli.main(["prune-reports", "--wait", "0"]) == 0
    assert not old.exists() and "deleted 1 file(s)" in capsys.readouterr().out


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_prune_runs_deletes_old_runs_with_their_event_logs(dagster_home):
    instance = dg.DagsterInstance.get()

    @dg.op
    def talk(context) -> None:
        for i in range(200):
            context.log.info(f"line {i} " + "x" * 200)
        print("captured stdout " * 100)

    @dg.job(executor_def=dg.in_process_executor)
    def chatty():
        talk()

    old = [chatty.execute_in_process(instance=instance).dagster_run.run_id for _ in range(3)]
    time.sleep(0.05)
    cutoff = datetime.now(UTC)
    time.sleep(0.05)
    new = chatty.execute_in_process(instance=instance).dagster_run.run_id
    shards = {r: Path(instance.event_log_storage.path_for_shard(r)) for r in [*old, new]}
    assert all(p.is_file() for p in shards.values())
    before = _tree_bytes(dagster_home)

    report = retention.prune_runs(instance, cutoff)
    assert sorted(report.run_ids) == sorted(old)
    after = _tree_bytes(dagster_home)
    for run_id in old:
        assert instance.get_run_by_id(run_id) is None
        assert not shards[run_id].exists()
        assert not (dagster_home / "storage" / run_id).exists()      # captured stdout/stderr
        assert instance.all_logs(run_id) == []                      # no events, no error
    assert instance.get_run_by_id(new) is not None and len(instance.all_logs(new)) > 200
    assert after < before
    print(f"prune-runs: DAGSTER_HOME {before} → {after} bytes "
          f"({report.event_db_bytes} bytes of per-run event databases removed)")


@pytest.mark.slow
def test_real_charts_pruned_and_kept_across_a_rebuild(dagster_home, tmp_path, make_settings,
                                                      monkeypatch):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium not installed")
    monkeypatch.setenv("FUNNEL_STEP_RETRIES", "0")
    landing = copy_landing(tmp_path / "landing", FIRST_NIGHT)
    settings = make_settings(landing)
    instance = dg.DagsterInstance.get()
    charts = settings.reports_dir / retention.CHARTS_SUBDIR

    def linked() -> set[str]:
        return retention.referenced_chart_files(instance, keep_last=1)

    assert materialize_all(settings, instance).success                 # night 1
    night1 = linked()
    copy_landing(landing, LATE)
    assert materialize_all(settings, instance).success                 # night 2: new figures
    night2 = linked()
    assert night1 - night2, "the second night drew different charts"
    on_disk = {p.name for p in charts.iterdir()}
    assert night1 | night2 <= on_disk

    # rebuild: same data as night 2, so it draws night 2's charts; night 1's links still work
    for name, value in (("FUNNEL_LANDING_DIR", landing), ("FUNNEL_DUCKDB_PATH", settings.duckdb_path),
                        ("FUNNEL_REPORTS_DIR", settings.reports_dir),
                        ("FUNNEL_DUCKDB_MEMORY_LIMIT", settings.duckdb_memory_limit)):
        monkeypatch.setenv(name, str(value))
    assert cli.main(["rebuild", "--wait", "0"]) == 0
    assert linked() == night2
    on_disk = {p.name for p in charts.iterdir()}
    assert night1 <= on_disk, "older materialisations' chart links broke in the rebuild"

    before = _tree_bytes(charts)
    report = retention.prune_reports(instance, settings.reports_dir, older_than_days=0,
                                     keep_last=1)
    # everything the latest runs do not link goes: night 1's charts, and the pictures
    # whose links did not fit a page's 1,000-character markdown (never linked at all)
    assert night1 - night2 <= set(report.deleted) == on_disk - night2
    on_disk = {p.name for p in charts.iterdir()}
    assert on_disk == night2
    assert report.kept_bytes == _tree_bytes(charts) and report.deleted_bytes > 0
    assert before == report.kept_bytes + report.deleted_bytes
    print(f"prune-reports: {before} bytes in charts/ → kept {report.kept_bytes} bytes "
          f"({len(report.kept)} files linked from the latest materialisations), deleted "
          f"{report.deleted_bytes} bytes ({len(report.deleted)} files)")
    shutil.rmtree(tmp_path / "landing")
