"""Issue 4: the expectation suites as Dagster asset checks, through the real job.

One baseline run on tests/fixtures/dirty-landing (module fixture); every other run works
on a copy of its DuckDB file, so it starts from published marts and a validation history.

Bad data is crafted honestly: a test-only text appended to one SQL file of the pipeline
(`warehouse.sql_text`), or to the landing copy, writes the bad rows; the check then fails
because the table is bad, and nothing else is mocked. Each "round" breaks one blocking
check in each mart at once (or in each raw/core suite) and asserts that exactly the
targeted checks fail (plus the ones a tamper must break by construction, listed), the
run fails, and the published marts are unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import (
    APPLICANT_HEADER,
    EVENT_HEADER,
    FIXTURES,
    REPO_ROOT,
    UNRECOGNISED_PEOPLE,
    materialize_all,
    read_table,
    write_csv,
)
from funnel_pipeline.assets import raw as assets_raw
from funnel_pipeline.assets.charts import CHART_ASSETS

from funnel_pipeline import marts, raw, warehouse
from funnel_pipeline.funnel_config import load_config
from funnel_pipeline.publish import publication
from funnel_pipeline.quality import checks, mart_suites
from funnel_pipeline.settings import Settings

pytestmark = pytest.mark.starts_first(minutes=9)

DIRTY = FIXTURES / "dirty-landing"
MART_KEYS = [f"marts/{m}" for m in marts.MART_NAMES]


# --- fixtures ---------------------------------------------------------------------------


def _settings(tmp: Path, landing: Path, name: str) -> Settings:
    return Settings(landing_dir=landing, duckdb_path=tmp / f"{name}.duckdb",
                    reports_dir=tmp / f"{name}_reports", duckdb_memory_limit="1GB")


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.get() as inst:
            yield inst


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, instance):
    tmp = tmp_path_factory.mktemp("baseline")
    settings = _settings(tmp, DIRTY, "funnel")
    result = materialize_all(settings, instance)
    assert result.success
    return settings, result


@pytest.fixture
def copy_of(baseline, tmp_path: Path) -> Callable[[Path], Settings]:
    """A copy of the baseline DuckDB file (and report folder) reading a new landing folder."""
    base, _ = baseline

    def _copy(landing: Path) -> Settings:
        settings = _settings(tmp_path, landing, "copy")
        shutil.copy(base.duckdb_path, settings.duckdb_path)
        return settings

    return _copy


def _landing_with(tmp: Path, extra: dict[str, tuple[list[str], list[list[object]]]]) -> Path:
    """dirty-landing (already loaded in the copy) plus new CSV files."""
    folder = tmp / "landing"
    shutil.copytree(DIRTY, folder)
    for p in folder.iterdir():
        p.chmod(0o644)
    for name, (header, rows) in extra.items():
        write_csv(folder / name, header, rows)
    return folder


#: the warnings dirty-landing raises as delivered, with the rows they report: two
#: appointments dated before their vetting pass (negative durations, contract section 7)
DIRTY_WARNINGS = {("marts/stage_durations", "no_negative_durations"): 2}

#: checks that are not Great Expectations suites (landing files, chart pictures)
OWN_CHECKS = {("raw/landing_files", "loaded_files_unchanged"),
              *((f"charts/{page}", "pictures_drawn") for page in CHART_ASSETS)}


def _evaluations(result) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    """The suite checks' evaluations (the checks of expectations/*.json)."""
    return {(e.asset_key.to_user_string(), e.check_name): e
            for e in result.get_asset_check_evaluations()
            if (e.asset_key.to_user_string(), e.check_name) not in OWN_CHECKS}


def _failed_blocking(result) -> set[tuple[str, str]]:
    return {k for k, e in _evaluations(result).items()
            if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR}


def _all_specs() -> dict[tuple[str, str], str]:
    return {(asset, s.check_name): s.severity
            for asset, _, data in checks._suites() for s in checks.specs_from_dict(data)}


def _marts_snapshot(settings: Settings) -> dict[str, list[dict]]:
    return {m: read_table(settings, f"marts.{m}") for m in marts.MART_NAMES}


def _history(settings: Settings, run_id: str | None = None) -> list[dict]:
    rows = read_table(settings, "quality.validation_results")
    return [r for r in rows if run_id is None or r["run_id"] == run_id]


def _step_failure_message(result, step: str) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_key == step:
            return event.step_failure_data.error.message
    raise AssertionError(f"step {step} did not fail")


def _tamper_sql(monkeypatch: pytest.MonkeyPatch, appended: dict[str, str]) -> None:
    """Test-only: append statements to pipeline SQL files (the bad data they write is real)."""
    original = warehouse.sql_text

    def patched(relative_path: str) -> str:
        text = original(relative_path)
        extra = appended.get(relative_path)
        return f"{text}\n{extra}\n" if extra else text

    monkeypatch.setattr(warehouse, "sql_text", patched)


# --- every check listed, with its status --------------------------------------------------


def test_every_check_is_an_asset_check_with_its_status(baseline):
    _, result = baseline
    evaluations = _evaluations(result)
    specs = _all_specs()
    assert set(evaluations) == set(specs)
    own = {(e.asset_key.to_user_string(), e.check_name): e
           for e in result.get_asset_check_evaluations()}
    assert all(own[k].passed for k in OWN_CHECKS)
    # dirty-landing passes every check with its default thresholds but the warnings it
    # is known to raise, each naming exactly its rows
    assert {k for k, e in evaluations.items() if not e.passed} == set(DIRTY_WARNINGS)
    for key, count in DIRTY_WARNINGS.items():
        assert evaluations[key].metadata["unexpected_count"].value == count, key
    for key, evaluation in evaluations.items():
        expected = (dg.AssetCheckSeverity.ERROR if specs[key] == "error"
                    else dg.AssetCheckSeverity.WARN)
        assert evaluation.severity == expected, key
        metadata = evaluation.metadata
        assert {"observed_value", "unexpected_count", "unexpected_percent",
                "rows_checked"} <= set(metadata), key
        # aggregates only: no applicant id, event id or campaign name reaches Dagster
        text = json.dumps({k: str(v.value) for k, v in metadata.items()})
        assert "P10" not in text and "Police" not in text, key
    # the Definitions declare them one by one (what the UI's Checks tab lists)
    from funnel_pipeline.definitions import defs
    declared = {(k.asset_key.to_user_string(), k.name)
                for k in defs.resolve_asset_graph().asset_check_keys}
    assert set(specs) <= declared
    # blocking in Dagster's sense exactly for severity error
    blocking = {(spec.asset_key.to_user_string(), spec.name): spec.blocking
                for a in defs.resolve_asset_graph().assets_defs for spec in a.check_specs}
    assert all(blocking[k] == (sev == "error") for k, sev in specs.items())


def test_history_and_auditor_report(baseline):
    settings, result = baseline
    rows = _history(settings, result.run_id)
    assert len(rows) == len(_all_specs())
    assert {(r["asset_key"], r["check_name"]) for r in rows} == set(_all_specs())
    assert {(r["asset_key"], r["check_name"]) for r in rows if not r["success"]} == set(
        DIRTY_WARNINGS)
    # the report asset links the offline report, which lists this run
    materialization = next(
        m for m in result.asset_materializations_for_node("quality__validation_report"))
    index = Path(materialization.metadata["report"].value)
    assert index == settings.reports_dir / "quality" / "index.html"
    assert result.run_id in index.read_text(encoding="utf-8")


def test_auditor_report_is_served_by_the_ui_chart_server(baseline):
    """The asset links the report over HTTP (a browser refuses file:// from the UI): the
    chart server `funnel ui` starts answers both links with the pages the run wrote."""
    import socket
    import subprocess
    import time
    import urllib.request
    from urllib.parse import urlsplit

    from funnel_pipeline.cli import ui_commands

    settings, result = baseline
    metadata = next(iter(result.asset_materializations_for_node(
        "quality__validation_report"))).metadata
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server_cmd, *_ = ui_commands(settings, "127.0.0.1", 3000, "127.0.0.1", port)
    server = subprocess.Popen(server_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pages = {"report_url": settings.reports_dir / "quality" / "index.html",
                 "this_run_url": settings.reports_dir / "quality" / "runs"
                 / f"{result.run_id}.html"}
        for key, page in pages.items():
            path = urlsplit(metadata[key].value).path
            for _ in range(100):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                        assert r.status == 200
                        assert r.read() == page.read_bytes()
                        break
                except OSError:
                    time.sleep(0.1)
            else:
                raise AssertionError(f"{key}: {path} not served")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_first_run_batches_are_whole_tables_equal_to_the_filtered_batch(baseline):
    """`query_when_all_new` (used when every file is new) selects exactly the rows the
    file-filtered query selects with every eligible file, and the first run used it."""
    import duckdb

    from funnel_pipeline.quality.query import bind

    settings, result = baseline
    with_shortcut = [(name, data["meta"]["batch"]) for _, name, data in checks._suites()
                     if "query_when_all_new" in data["meta"]["batch"]]
    assert {name for name, _ in with_shortcut} == {"core_stage_outcomes", "core_applications"}
    history = _history(settings, result.run_id)
    evaluations = _evaluations(result)
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        for name, batch in with_shortcut:
            kinds = batch["new_files"]["kinds"]
            ids = [r[0] for r in con.execute(
                "select file_id from raw.landing_files where kind in (select unnest(?)) "
                "and status in ('loaded', 'duplicate') and processed_at is not null",
                [kinds]).fetchall()]
            filtered = bind(batch["query"], {"file_ids": ids})
            whole = batch["query_when_all_new"]
            assert ":file_ids" not in whole
            for a, b in ((filtered, whole), (whole, filtered)):
                assert con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0] == 0
            rows = con.execute(f"select count(*) from ({whole})").fetchone()[0]
            assert rows > 100
            # the first run validated every row of the table, read through the shortcut
            counted = {r["element_count"] for r in history
                       if r["suite"] == name and r["element_count"] is not None}
            assert counted == {rows}
            labels = {e.metadata["batch"].value for (asset, _), e in evaluations.items()
                      if e.metadata["suite"].value == name}
            assert labels == {(f"{rows} new rows from {len(ids)} file(s) "
                               "(every file is new: the whole table)")}
    finally:
        con.close()


def test_mart_suites_are_generated_files():
    for suite in mart_suites.all_suites():
        path = REPO_ROOT / "expectations" / f"{suite['name']}.json"
        assert path.read_text(encoding="utf-8") == mart_suites.render(suite), (
            f"{path.name} is out of date: python -m funnel_pipeline.quality.mart_suites")


def test_vocabulary_comes_from_the_configuration():
    """The suites hold no stage or group list of their own: they join config.*, which
    the run wrote from the funnel configuration."""
    params = checks.expectation_parameters(Settings(), suppression_threshold=5)
    assert not {"stage_names", "outcome_names"} & set(params)
    assert not [k for k in params if k.startswith("groups_")]
    texts = {suite: (REPO_ROOT / "expectations" / f"{suite}.json").read_text()
             for suite in ("core_events", "core_applicants", "core_applications")}
    assert "config.stages" in texts["core_events"]
    assert "config.groups" in texts["core_applicants"] and "config.groups" in texts["core_applications"]
    assert params["small_counts"] == ["1", "2", "3", "4"]


def test_a_run_with_no_new_files_says_so_instead_of_passing_on_nothing(copy_of, instance):
    """Issue 18: after a run with no new files, the raw and core checks read "no new rows"
    (and carry no numbers, so Dagster's plots leave the run out); the marts, rebuilt,
    are checked on all their rows; the auditor report shows NO ROWS, not PASS."""
    settings = copy_of(DIRTY)
    result = materialize_all(settings, instance, charts=False)
    assert result.success
    evaluations = _evaluations(result)
    incremental = {k: e for k, e in evaluations.items()
                   if e.metadata["suite"].value.startswith(("raw_", "core_", "quality_"))}
    assert incremental and all(e.passed for e in incremental.values())
    for key, e in incremental.items():
        assert e.metadata["batch"].value == "no new rows: nothing to check this run", key
        assert not {"rows_checked", "observed_value", "unexpected_count"} & set(e.metadata), key
        assert e.description.startswith("No new rows this run"), key
    marts_checked = {k: e.metadata["rows_checked"].value for k, e in evaluations.items()
                     if k[0] == "marts/stage_pass_rates"}
    assert len(set(marts_checked.values())) == 1 and next(iter(marts_checked.values())) > 100
    page = (settings.reports_dir / "quality" / "runs" / f"{result.run_id}.html").read_text()
    row = re.search(r'<tr data-check="event_id_unique">.*?</tr>', page).group(0)
    assert "NO ROWS" in row and "PASS" not in row


def test_warning_on_unrecognised_values_still_publishes(baseline, copy_of, tmp_path, instance):
    _, base_result = baseline
    settings = copy_of(_landing_with(tmp_path, {"applicants_99_unrecognised.csv":
                                                (APPLICANT_HEADER, UNRECOGNISED_PEOPLE)}))
    result = materialize_all(settings, instance, charts=False)
    assert result.success
    evaluations = _evaluations(result)
    warning = evaluations[("core/applicants", "unrecognised_values_share")]
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert warning.metadata["observed_value"].value == pytest.approx(1.0)
    assert [k for k, e in evaluations.items() if not e.passed and k not in DIRTY_WARNINGS] == [
        ("core/applicants", "unrecognised_values_share")]
    # the marts were published by this run
    assert {m.asset_key.to_user_string()
            for m in result.get_asset_materialization_events()} >= set(MART_KEYS)
    # one more set of history rows: this run's, one per check
    history = _history(settings)
    assert len(_history(settings, base_result.run_id)) == len(_all_specs())
    assert len(_history(settings, result.run_id)) == len(_all_specs())
    assert len(history) == 2 * len(_all_specs())


def test_warning_on_implausible_event_times_still_publishes(baseline, copy_of, tmp_path,
                                                            instance):
    """An event dated in the future or before FUNNEL_EARLIEST_EVENT_DATE is valid under the
    contract (it parses), so it is counted and only warned about: the marts publish."""
    events = [["EVFUTURE1", "PFUTURE1", "2022-Police Now, Detective-2", "application", "passed",
               "2999-01-01T09:00:00Z"],
              ["EVPAST1", "PPAST1", "2022-Police Now, Detective-2", "application", "passed",
               "1999-06-01T09:00:00Z"]]
    settings = copy_of(_landing_with(tmp_path, {"events_2099_odd_times.csv": (EVENT_HEADER, events)}))
    def applications_entered() -> int:
        return next(r["entered"] for r in read_table(settings, "marts.stage_pass_rates")
                    if r["stage"] == "application" and r["characteristic"] == "all")

    entered = applications_entered()
    result = materialize_all(settings, instance, charts=False)
    assert result.success
    evaluations = _evaluations(result)
    warning = evaluations[("core/events", "occurred_at_in_window")]
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert warning.metadata["unexpected_count"].value == 2
    assert [k for k, e in evaluations.items() if not e.passed and k not in DIRTY_WARNINGS] == [
        ("core/events", "occurred_at_in_window")]
    # both events are counted: the published marts include them
    assert applications_entered() == entered + 2


def test_warnings_on_negative_durations_and_later_leavings_still_publish(
        baseline, copy_of, tmp_path, instance):
    """Contract sections 7 and 9: a negative duration is kept and reported, and a recruit's
    later leavers rows count nowhere and are reported: both warnings, the marts publish."""
    campaign = "2022-Police Now, Detective-2"
    stages = ["application", "sift", "assessment", "vetting", "appointment"]
    # an application sifted before it applied (one negative duration, at the sift)
    backwards = [["EVBACK1", "PBACK1", campaign, "application", "passed", "2022-03-10T09:00:00Z"],
                 ["EVBACK2", "PBACK1", campaign, "sift", "failed", "2022-03-01T09:00:00Z"]]
    # a recruit (every stage passed, in order) who leaves on two dates
    recruit = [[f"EVLEAVE{i}", "PLEAVE1", campaign, stage, "passed", f"2022-04-{1 + i:02d}T09:00:00Z"]
               for i, stage in enumerate(stages)]
    leavers = [["PLEAVE1", "2023-01-15", "Resigned"], ["PLEAVE1", "2023-06-30", "Resigned"]]
    settings = copy_of(_landing_with(tmp_path, {
        "events_2099_backwards.csv": (EVENT_HEADER, backwards + recruit),
        "leavers_2099.csv": (["applicant_id", "left_on", "reason"], leavers)}))
    result = materialize_all(settings, instance, charts=False)
    assert result.success
    evaluations = _evaluations(result)
    failed = {k for k, e in evaluations.items() if not e.passed}
    assert failed == {("marts/stage_durations", "no_negative_durations"),
                      ("marts/retention", "one_leaving_per_recruit")}
    added = {("marts/stage_durations", "no_negative_durations"): 1,
             ("marts/retention", "one_leaving_per_recruit"): 1}
    for key in failed:
        assert evaluations[key].severity == dg.AssetCheckSeverity.WARN
        assert evaluations[key].metadata["unexpected_count"].value == (
            DIRTY_WARNINGS.get(key, 0) + added[key]), key
    retention = {r["characteristic"]: r for r in read_table(settings, "marts.retention")}
    assert retention["all"]["leavers"] == 1  # the earliest row counts, once


# --- blocking mart checks: staging tampered, publication refused ------------------------


def _pick_pair(t: str, keys: list[str], where: str, set_a: str, set_b: str,
               source: str | None = None) -> str:
    """Update two rows of different groups with the same segment, characteristic, stage."""
    on = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in keys)
    # `source` (a temp table) already carries the target table's rowid as `rid`
    src = source or f"(SELECT rowid AS rid, * FROM {t})"
    return (
        f"CREATE OR REPLACE TEMP TABLE _pick AS SELECT a.rid AS ra, b.rid AS rb "
        f"FROM {src} AS a JOIN {src} AS b "
        f"ON {on} AND a.group_name <> b.group_name "
        f"WHERE a.characteristic <> 'all' AND {where} ORDER BY a.rid, b.rid LIMIT 1;\n"
        f"UPDATE {t} SET {set_a} WHERE rowid = (SELECT ra FROM _pick);\n"
        f"UPDATE {t} SET {set_b} WHERE rowid = (SELECT rb FROM _pick);"
    )


def _one(t: str, sets: str, where: str = "true") -> str:
    return f"UPDATE {t} SET {sets} WHERE rowid = (SELECT min(rowid) FROM {t} WHERE {where});"


def _lagged(t: str, segment: tuple[str, ...]) -> str:
    part = ", ".join((*segment, "characteristic", "group_name"))
    return (f"CREATE OR REPLACE TEMP TABLE _lag AS SELECT rowid AS rid, *, "
            f"lag(passed) OVER (PARTITION BY {part} ORDER BY stage_order) AS prev_passed, "
            f"lag(cumulative_pass_rate) OVER (PARTITION BY {part} ORDER BY stage_order) AS prev_cum "
            f"FROM {t};\n")


#: the pooled mart sums the by-campaign rows' decided and passed counts: a tamper that
#: changes them there breaks the pooled table's sums check too
_POOLED_SUMS = ("marts/pooled_stage_pass_rates", "sums_equal_the_campaign_rows")


def _pass_rate_tampers(mart: str) -> list[tuple[str, str, set]]:
    """(check, SQL appended after marts/<mart>.sql, other checks it must break: a name in
    this mart or an (asset, check) pair elsewhere)."""
    t = f"staging.{mart}"
    pooled = {_POOLED_SUMS} if mart == "stage_pass_rates_by_campaign" else set()
    segment = mart_suites.PASS_RATE_SEGMENTS[mart]
    keys = [*segment, "characteristic", "stage_order"]
    lag = _lagged(t, segment)
    return [
        ("not_empty", f"DELETE FROM {t};", set()),
        ("entered_equals_outcomes_plus_pending",
         _pick_pair(t, keys, "a.stage_order = 1 AND b.entered >= 1",
                    "entered = entered + 1", "entered = entered - 1"), set()),
        ("counts_not_negative",
         _pick_pair(t, keys, "a.stage_order = 1 AND b.failed >= 1",
                    "pending = pending - 1, failed = failed + 1",
                    "pending = pending + 1, failed = failed - 1"), pooled),
        ("pass_rate_in_unit_interval", _one(t, "pass_rate = 1.5", "pass_rate IS NOT NULL"),
         {"interval_contains_rate"}),
        ("pass_rate_ci_low_in_unit_interval",
         _one(t, "pass_rate_ci_low = -0.1", "pass_rate_ci_low IS NOT NULL"), set()),
        ("pass_rate_ci_high_in_unit_interval",
         _one(t, "pass_rate_ci_high = 1.1", "pass_rate_ci_high IS NOT NULL"), set()),
        ("cumulative_pass_rate_in_unit_interval",
         _one(t, "cumulative_pass_rate = 1.5", "stage_order = 1"), set()),
        ("interval_contains_rate",
         _one(t, "pass_rate_ci_low = pass_rate_ci_high",
              "pass_rate_ci_low < pass_rate AND pass_rate < pass_rate_ci_high"), set()),
        ("fisher_p_value_in_unit_interval", _one(t, "fisher_p_value = 1.5"), set()),
        ("passers_enter_next_stage",
         lag + _pick_pair(
             t, keys, "a.stage_order >= 2 AND a.pending >= a.entered - a.prev_passed + 1",
             "pending = pending - (SELECT entered - prev_passed + 1 FROM _lag WHERE rid = (SELECT ra FROM _pick)), "
             "entered = entered - (SELECT entered - prev_passed + 1 FROM _lag WHERE rid = (SELECT ra FROM _pick))",
             "pending = pending + (SELECT entered - prev_passed + 1 FROM _lag WHERE rid = (SELECT ra FROM _pick)), "
             "entered = entered + (SELECT entered - prev_passed + 1 FROM _lag WHERE rid = (SELECT ra FROM _pick))",
             source="_lag"), set()),
        ("cumulative_pass_rate_never_rises",
         lag + f"UPDATE {t} SET cumulative_pass_rate = (SELECT prev_cum + (1 - prev_cum) / 2 "
               f"FROM _lag WHERE rid = {t}.rowid) WHERE rowid = (SELECT min(rid) FROM _lag "
               "WHERE stage_order >= 2 AND entered = prev_passed AND prev_cum < 0.99);", set()),
        ("group_counts_sum_to_all",
         _one(t, "passed = passed + 1, failed = failed - 1",
              "characteristic <> 'all' AND stage_order = 5 AND failed >= 1"), pooled),
        ("ratio_inside_its_interval",
         _one(t, "air_ci_low = adverse_impact_ratio + 0.1",
              "adverse_impact_ratio IS NOT NULL AND passed > 0 AND NOT flagged"), set()),
    ]


def _other_mart_tampers() -> dict[str, list[tuple[str, str, set[str]]]]:
    d, s, r, i = ("staging.drop_out_points", "staging.stage_durations",
                  "staging.representation", "staging.intervention_effects")

    def effect(row: str) -> str:
        return f"INSERT INTO {i} VALUES {row};"

    return {
        "drop_out_points": [
            ("lists_every_flagged_row", f"DELETE FROM {d} WHERE rowid = (SELECT min(rowid) FROM {d});", set()),
            ("only_flagged_rows", _one(d, "flagged = false"), set()),
            ("entered_equals_outcomes_plus_pending", _one(d, "entered = entered + 1"), set()),
            ("counts_not_negative",
             _one(d, "pending = -1, entered = passed + failed + withdrawn - 1"), set()),
            ("pass_rate_in_unit_interval", _one(d, "pass_rate = 1.5"), {"interval_contains_rate"}),
            ("pass_rate_ci_low_in_unit_interval", _one(d, "pass_rate_ci_low = -0.1"), set()),
            ("pass_rate_ci_high_in_unit_interval", _one(d, "pass_rate_ci_high = 1.1"), set()),
            ("cumulative_pass_rate_in_unit_interval", _one(d, "cumulative_pass_rate = 1.5"), set()),
            ("interval_contains_rate", _one(d, "pass_rate_ci_low = pass_rate_ci_high",
                                            "pass_rate_ci_low < pass_rate AND pass_rate < pass_rate_ci_high"), set()),
            ("fisher_p_value_in_unit_interval", _one(d, "fisher_p_value = -0.5"), set()),
            ("holm_p_value_in_unit_interval", _one(d, "holm_p_value = 1.5"), set()),
            ("holm_not_below_raw_p", _one(d, "holm_p_value = fisher_p_value / 2", "fisher_p_value > 0"), set()),
            ("shortfall_positive", _one(d, "shortfall = -1"), set()),
            ("ratio_inside_its_interval",
             _one(d, "air_ci_high = adverse_impact_ratio - 0.01", "passed > 0"), set()),
        ],
        "stage_durations": [
            ("n_not_negative",
             (f"CREATE OR REPLACE TEMP TABLE _pick AS SELECT a.rowid AS ra, b.rowid AS rb, a.n AS na "
             f"FROM {s} AS a JOIN {s} AS b ON a.characteristic = b.characteristic "
             f"AND a.stage_order = b.stage_order AND a.group_name <> b.group_name "
             f"WHERE a.characteristic <> 'all' AND a.n >= 1 AND b.n >= 1 LIMIT 1;\n"
             f"UPDATE {s} SET n = n + (SELECT na + 1 FROM _pick) WHERE rowid = (SELECT rb FROM _pick);\n"
              f"UPDATE {s} SET n = -1 WHERE rowid = (SELECT ra FROM _pick);"), set()),
            ("quantiles_only_with_durations", _one(s, "median_days = NULL", "n > 0"), set()),
            ("median_not_above_p90", _one(s, "median_days = p90_days + 1", "n > 0"), set()),
            ("group_counts_sum_to_all", _one(s, "n = n + 1", "characteristic = 'all' AND n > 0"), set()),
        ],
        "representation": [
            ("applications_not_negative", _one(r, "applications = -1"),
             {"appointed_within_applications"}),
            ("appointed_within_applications", _one(r, "appointed = applications + 1"), set()),
            ("applicant_share_in_unit_interval",
             _pick_pair(r, ["characteristic"], "a.applicant_share IS NOT NULL AND b.applicant_share IS NOT NULL",
                        "applicant_share = applicant_share + 1", "applicant_share = applicant_share - 1"), set()),
            ("appointed_share_in_unit_interval",
             _pick_pair(r, ["characteristic"], "a.appointed_share IS NOT NULL AND b.appointed_share IS NOT NULL",
                        "appointed_share = appointed_share + 1", "appointed_share = appointed_share - 1"), set()),
            ("population_share_in_unit_interval", _one(r, "population_share = 1.5"), set()),
            ("shares_sum_to_one", _one(r, "applicant_share = applicant_share / 2", "applicant_share > 0"), set()),
        ],
        "intervention_effects": [
            ("passed_within_decided", effect("('T0', 'sift', 2, 'all', 'All', 1, 2, 0.5, 1, 1, 1.0, 0.5, 0.5)"), set()),
            ("pass_rate_before_in_unit_interval", effect("('T1', 'sift', 2, 'all', 'All', 2, 1, 1.5, 2, 1, 0.5, 0.0, 0.5)"), set()),
            ("pass_rate_after_in_unit_interval", effect("('T2', 'sift', 2, 'all', 'All', 2, 1, 0.5, 2, 1, 1.5, 0.0, 0.5)"), set()),
            ("pass_rate_difference_in_range", effect("('T3', 'sift', 2, 'all', 'All', 2, 1, 0.5, 2, 1, 0.5, 1.5, 0.5)"), set()),
            ("fisher_p_value_in_unit_interval", effect("('T4', 'sift', 2, 'all', 'All', 2, 1, 0.5, 2, 1, 0.5, 0.0, 1.5)"), set()),
            ("group_counts_sum_to_all",
             (effect("('T5', 'sift', 2, 'all', 'All', 2, 1, 0.5, 2, 1, 0.5, 0.0, 1.0)") + "\n"
              + effect("('T5', 'sift', 2, 'sex', 'Female', 1, 1, 1.0, 1, 1, 1.0, 0.0, 1.0)")), set()),
        ],
    }


def _pooled_retention_and_flow_tampers() -> dict[str, list[tuple[str, str, set[str]]]]:
    p, r, w = "staging.pooled_stage_pass_rates", "staging.retention", "staging.workforce_flows"
    return {
        "pooled_stage_pass_rates": [
            ("strata_not_above_campaigns", _one(p, "strata = 1000"),
             {"sums_equal_the_campaign_rows"}),
            ("sums_equal_the_campaign_rows", _one(p, "passed = passed + 1"), set()),
            ("pooled_ratio_not_negative",
             _one(p, "pooled_rate_ratio = -0.5", "NOT flagged AND cmh_p_value >= 0.05"), set()),
            ("cmh_p_value_in_unit_interval",
             _one(p, "cmh_p_value = 1.5", "NOT flagged AND cmh_p_value IS NOT NULL"), set()),
            ("breslow_day_p_value_in_unit_interval",
             _one(p, "breslow_day_p_value = 1.5", "breslow_day_p_value IS NOT NULL"), set()),
            ("undefined_tests_empty", _one(p, "breslow_day_p_value = 0.5", "strata = 1"), set()),
            ("flagged_as_defined", _one(p, "flagged = NOT flagged"), set()),
        ],
        "retention": [
            ("leavers_not_above_recruits",
             _one(r, "leavers = recruits + 1", "characteristic <> 'all'"), set()),
            ("survival_ordered",
             _one(r, "retention_12_months = 1.5", "characteristic <> 'all'"), set()),
            ("group_recruits_sum_to_all",
             _one(r, "recruits = recruits + 1", "characteristic = 'all'"), set()),
            ("logrank_p_value_in_unit_interval", _one(r, "logrank_p_value = 1.5"), set()),
        ],
        "workforce_flows": [
            # a route's row changed: its 'All routes' row no longer adds up either
            ("counts_nested", _one(w, "group_count = stated + 1", "entry_route <> 'All routes'"),
             {"routes_add_up_to_all_routes"}),
            ("share_in_unit_interval",
             _pick_pair(w, ["financial_year", "entry_route", "flow", "characteristic"],
                        "a.share IS NOT NULL AND b.share IS NOT NULL",
                        "share = share + 1", "share = share - 1"), set()),
            ("shares_of_stated_groups_sum_to_one", _one(w, "share = share / 2", "share > 0"),
             set()),
            ("routes_add_up_to_all_routes",
             _one(w, "group_count = group_count - 1",
                  "entry_route = 'All routes' AND group_count >= 1"), set()),
        ],
    }


def mart_tampers() -> dict[str, list[tuple[str, str, set[str]]]]:
    return {**{m: _pass_rate_tampers(m) for m in mart_suites.PASS_RATE_SEGMENTS},
            **_other_mart_tampers(), **_pooled_retention_and_flow_tampers()}


def _blocking_mart_checks() -> set[tuple[str, str]]:
    return {k for k, sev in _all_specs().items() if k[0].startswith("marts/") and sev == "error"}


def test_every_blocking_mart_check_has_a_tamper():
    covered = {(f"marts/{m}", check) for m, cases in mart_tampers().items() for check, _, _ in cases}
    assert covered == _blocking_mart_checks()


ROUNDS = max(len(cases) for cases in mart_tampers().values())


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_blocking_mart_checks_refuse_publication(round_, baseline, copy_of, monkeypatch, instance):
    """Round n breaks the n-th blocking check of every mart at once."""
    settings = copy_of(DIRTY)  # nothing new to load: only the marts are rebuilt
    before = _marts_snapshot(settings)
    appended, expected = {}, set()
    for mart, cases in mart_tampers().items():
        if round_ < len(cases):
            check, sql, also = cases[round_]
            appended[f"marts/{mart}.sql"] = sql
            expected |= {c if isinstance(c, tuple) else (f"marts/{mart}", c)
                         for c in {check, *also}}
    _tamper_sql(monkeypatch, appended)

    # only the marts step: the copy holds the baseline's core tables, nothing new to load
    result = materialize_all(settings, instance, only=MART_KEYS)

    assert not result.success
    assert _failed_blocking(result) == expected
    message = _step_failure_message(result, "mart_tables")
    assert "Marts NOT published" in message and "Exceeded max_retries" not in message
    assert all(check in message for _, check in expected)
    # every mart check was reported (pass or fail), no mart was materialised
    reported = {k for k in _evaluations(result) if k[0].startswith("marts/")}
    assert reported == {k for k in _all_specs() if k[0].startswith("marts/")}
    assert not [m for m in result.get_asset_materialization_events()
                if m.asset_key.to_user_string().startswith("marts/")]
    assert _marts_snapshot(settings) == before
    failed_rows = {(r["asset_key"], r["check_name"]) for r in _history(settings, result.run_id)
                   if not r["success"]}
    assert failed_rows - set(DIRTY_WARNINGS) == expected


# --- blocking publication checks: a disclosure-control bug cannot publish ----------------

PUBLICATION = "publish/annual_publication"
_C = publication.SUPPRESSED


class _Truth:
    """The unsuppressed counts behind the display rows (what the tamper may leak)."""

    def __init__(self, recruitment: list, leavers: list) -> None:
        self.recruitment = {(r.characteristic, r.group_name, r.period): r.counts for r in recruitment}
        self.leavers = {(r.characteristic, r.group_name, r.period): r.counts for r in leavers}

    def of(self, d: dict) -> dict[str, int]:
        if "financial_year" in d:
            return self.leavers[d["characteristic"], d["group_name"], d["financial_year"]]
        return self.recruitment[d["characteristic"], d["group_name"], d["year"]]


def _period(d: dict) -> object:
    return d["financial_year"] if "financial_year" in d else d["year"]


def _hide(d: dict, measure: str) -> None:
    """Suppress one count and, as the display rules do, the rates made from it."""
    d[measure] = _C
    for rate, (num, den) in publication.RATES.items():
        if measure in (num, den) and rate in d:
            d[rate] = _C


def _show(d: dict, measure: str, truth: _Truth) -> None:
    """Show a hidden count's true value, and the rates it makes (from shown counts)."""
    d[measure] = str(truth.of(d)[measure])
    for rate, (num, den) in publication.RATES.items():
        if measure in (num, den) and rate in d and _C not in (d[num], d[den]):
            d[rate] = (publication.NOT_APPLICABLE if d[den] == "0"
                       else f"{int(d[num]) / int(d[den]):.{publication.RATE_DECIMALS}f}")


def _uninvolved(rows: list[dict], config) -> list[dict]:
    """Group rows of characteristics in no derived relation (only their own Total links
    them), so a changed figure there bears on one relation only."""
    derived = [c for c in config.characteristics if c.kind == "derived"]
    linked = {c.name for c in derived} | {c.derived_from for c in derived}
    return [d for d in rows if d["characteristic"] not in linked
            and d["group_name"] != publication.TOTAL_GROUP]


def _nothing_hidden(rows: list[dict], like: dict, measure: str) -> bool:
    """No count of `measure` hidden in the same characteristic and period."""
    return not any(d[measure] == _C for d in rows if d["characteristic"] == like["characteristic"]
                   and _period(d) == _period(like))


def _reveal_small_counts(display: list[dict], leavers: list[dict], truth: _Truth, rule,
                         config) -> None:
    """In each measure, and among the leavers, show the true value of one count
    suppressed for being small."""
    for rows, measures in ((display, publication.MEASURES), (leavers, (publication.LEAVERS,))):
        for measure in measures:
            row = next(d for d in rows if d[measure] == _C
                       and rule.is_primary(truth.of(d)[measure]))
            row[measure] = str(truth.of(row)[measure])


def _misstate_counts_and_rates(display: list[dict], leavers: list[dict], truth: _Truth, rule,
                               config) -> None:
    """Recruitment: a shown count one too low, a count that is not a number, a rate above
    1, a rate hidden although both its counts are shown, a wrong rate within [0, 1], a
    rate of 0 where there is no one to divide by, one table's Total one too high. Leavers:
    a count one too low, one that is not a number, one table's Total one too high. Each
    where nothing of that measure is hidden beside it (nothing else can give way)."""
    t = rule.threshold
    shown = [d for d in _uninvolved(display, config)
             if all(d[m] != _C for m in publication.MEASURES)
             and d["sift_pass_rate"] not in (_C, publication.NOT_APPLICABLE)
             and _nothing_hidden(display, d, "applicants")]
    assert len(shown) >= 5
    assert int(shown[0]["applicants"]) > t
    shown[0]["applicants"] = str(int(shown[0]["applicants"]) - 1)
    shown[1]["sifted"] = "12a"
    shown[2]["sift_pass_rate"] = "1.5000"
    shown[3]["sift_pass_rate"] = _C
    rate = float(shown[4]["sift_pass_rate"])
    shown[4]["sift_pass_rate"] = f"{rate - 0.001 if rate > 0.5 else rate + 0.001:.4f}"
    nobody = next(d for d in display if d["appointment_rate"] == publication.NOT_APPLICABLE
                  or d["sift_pass_rate"] == publication.NOT_APPLICABLE)
    for rate in publication.RATES:
        if nobody[rate] == publication.NOT_APPLICABLE:
            nobody[rate] = "0.0000"
    total = next(d for d in reversed(display)
                 if d["group_name"] == publication.TOTAL_GROUP and d["applicants"] != _C)
    total["applicants"] = str(int(total["applicants"]) + 1)
    n = publication.LEAVERS
    groups = [d for d in _uninvolved(leavers, config) if d[n] != _C]
    low = next(d for d in groups if int(d[n]) > t)
    low[n] = str(int(low[n]) - 1)
    next(d for d in groups if d is not low)[n] = "x1"
    total = next(d for d in reversed(leavers)
                 if d["group_name"] == publication.TOTAL_GROUP and d[n] != _C)
    total[n] = str(int(total[n]) + 1)


def _make_recoverable(display: list[dict], leavers: list[dict], truth: _Truth, rule,
                      config) -> None:
    """Secondary suppression left out, three ways: a count hidden alone among its
    characteristic's groups (its Total gives it away); a sifted count hidden in a row
    whose applicants and progressed are equal (it lies between them); a leavers count
    left alone in its total (the other hidden one shown)."""
    alone = next(d for d in _uninvolved(display, config)
                 if d["applicants"] != _C and _nothing_hidden(display, d, "applicants"))
    _hide(alone, "applicants")
    pinned = next(d for d in display if d["sifted"] != _C
                  and d["applicants"] == d["progressed_to_assessment"] != _C)
    _hide(pinned, "sifted")
    n = publication.LEAVERS
    lone = next(d for d in _uninvolved(leavers, config)
                if d[n] != _C and _nothing_hidden(leavers, d, n))
    _hide(lone, n)


#: tamper → (the checks it targets, checks it may break by construction)
PUBLICATION_TAMPERS = {
    "reveal": (_reveal_small_counts,
               {*(f"{m}_no_small_count_shown" for m in publication.MEASURES),
                "leavers_no_small_count_shown"},
               # a small count shown may be all its rate or a total hid; the counts hidden
               # with it may now be worked out
               {"rate_suppressed_with_its_counts", "hidden_counts_not_recoverable_from_totals",
                "hidden_counts_not_recoverable_from_the_stages",
                "hidden_leavers_not_recoverable_from_totals"}),
    "misstate": (_misstate_counts_and_rates,
                 {"shown_counts_equal_the_counts", "counts_are_numbers_or_suppressed",
                  "rates_in_unit_interval", "rate_suppressed_with_its_counts",
                  "rates_equal_their_counts", "rate_not_applicable_without_denominator",
                  "totals_same_in_every_table", "shown_leavers_equal_the_counts",
                  "leavers_are_numbers_or_suppressed", "leaver_totals_same_in_every_table"},
                 set()),
    "recover": (_make_recoverable,
                {"hidden_counts_not_recoverable_from_totals",
                 "hidden_counts_not_recoverable_from_the_stages",
                 "hidden_leavers_not_recoverable_from_totals"},
                set()),
}


def _landing_for_publication(tmp: Path, baseline_settings: Settings) -> Path:
    """dirty-landing plus what the publication checks need to bite on: leavers (120 of
    the baseline's recruits, leaving 30–387 days after their start) and a new entry route
    whose six applications all passed the sift (applicants = progressed), and one whose six
    have not been sifted yet (no one to divide by)."""
    con = duckdb.connect(str(baseline_settings.duckdb_path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        recruits = con.execute(
            "SELECT applicant_id, occurred_at[array_length(occurred_at)] FROM core.applications "
            "WHERE in_funnel AND outcomes[array_length(outcomes)] = 'passed' "
            "ORDER BY applicant_id, campaign_id").fetchall()
    finally:
        con.close()
    people = list(dict.fromkeys(a for a, _ in recruits))
    start: dict[str, dt.datetime] = {}
    for a, s in recruits:  # leaving after the person's latest start: theirs, whatever else
        start[a] = max(s, start.get(a, s))
    leavers = [[a, (start[a] + dt.timedelta(days=30 + 3 * i)).strftime("%Y-%m-%d"), "Resigned"]
               for i, a in enumerate(people[:120])]
    config = load_config(None)
    first, sift = config.first_stage.name, config.sift_stage.name
    # CROUTE: six applications, all sifted in; CNOSIFT: six with no sift yet (a rate of [z])
    route_events = [[f"EV{c}{p}{k}", f"P{c}{p}", c, stage, "passed", f"2022-03-0{k + 1}T10:00:00Z"]
                    for c, route_stages in (("CROUTE", [first, sift]), ("CNOSIFT", [first]))
                    for p in range(6) for k, stage in enumerate(route_stages)]
    people_rows = [[f"P{c}{p}", "Female", "White", "No", "Heterosexual"]
                   for c in ("CROUTE", "CNOSIFT") for p in range(6)]
    return _landing_with(tmp, {
        "leavers_tamper.csv": (["applicant_id", "left_on", "reason"], leavers),
        "campaigns_tamper.csv": (["campaign_id", "entry_route", "title", "opened_on",
                                  "closed_on"], [["CROUTE", "Tamper route", "", "", ""],
                                                  ["CNOSIFT", "Not yet sifted", "", "", ""]]),
        "events_2099_route.csv": (EVENT_HEADER, route_events),
        "applicants_99_route.csv": (APPLICANT_HEADER, people_rows),
    })


def test_every_publication_check_has_a_tamper():
    covered = set().union(*(targeted for _, targeted, _ in PUBLICATION_TAMPERS.values()))
    assert {(PUBLICATION, c) for c in covered} == {
        k for k, sev in _all_specs().items() if k[0] == PUBLICATION and sev == "error"}


@pytest.mark.parametrize("tamper", sorted(PUBLICATION_TAMPERS))
def test_blocking_publication_checks_keep_the_published_table_and_files(
        tamper, baseline, copy_of, monkeypatch, instance, tmp_path):
    base, _ = baseline
    settings = copy_of(_landing_for_publication(tmp_path, base))
    shutil.copytree(base.reports_dir / "exports", settings.reports_dir / "exports")
    exports = {p.name: p.read_bytes() for p in (settings.reports_dir / "exports").iterdir()}
    assert {"annual_publication.csv", "annual_publication.xlsx"} <= set(exports)
    published = {t: read_table(settings, f"marts.{t}") for t in publication.PUBLISHED_TABLES}
    change, targeted, collateral = PUBLICATION_TAMPERS[tamper]
    original = publication.suppressed_rows
    seen = []

    def tampered(recruitment, leavers, rule, config):  # test-only: a disclosure-control bug
        display, leaver_display = original(recruitment, leavers, rule, config)
        assert leaver_display, "the landing has no leavers: the leavers checks would not bite"
        change(display, leaver_display, _Truth(recruitment, leavers), rule, config)
        seen.append(tamper)
        return display, leaver_display

    monkeypatch.setattr(publication, "suppressed_rows", tampered)
    result = materialize_all(settings, instance, charts=False)

    assert seen == [tamper]  # the tamper ran, in the publication step
    assert not result.success
    failed = {c for a, c in _failed_blocking(result) if a == PUBLICATION}
    assert targeted <= failed <= targeted | collateral
    assert {a for a, _ in _failed_blocking(result)} == {PUBLICATION}
    message = _step_failure_message(result, "publish__annual_publication")
    assert "Publication NOT updated" in message
    assert {t: read_table(settings, f"marts.{t}") for t in publication.PUBLISHED_TABLES} == published
    assert {p.name: p.read_bytes() for p in (settings.reports_dir / "exports").iterdir()} == exports
    assert not [m for m in result.get_asset_materialization_events()
                if m.asset_key.to_user_string() == PUBLICATION]


# --- blocking raw / core checks: the step fails, nothing downstream runs -----------------

_NEW_EVENTS = [
    [f"EVNEW{n:02d}", f"PNEW{p}", "2022-Police Now, Detective-2", stage, "passed",
     f"2022-03-0{d}T10:00:00Z"]
    for n, (p, stage, d) in enumerate(
        [(p, s, d) for p in range(3) for d, s in enumerate(["application", "sift"], start=1)])
]
_NEW_PEOPLE = [[f"PNEW{p}", "Female", "White", "No", "Heterosexual"] for p in range(3)]
_NEW_FILES = {"events_2099_new.csv": (EVENT_HEADER, _NEW_EVENTS),
              "applicants_99_new.csv": (APPLICANT_HEADER, _NEW_PEOPLE)}


def _core_file_rows(table: str, where: str = "true") -> str:
    return (f"(SELECT min(rowid) FROM {table} WHERE {where} AND file_id IN "
            "(SELECT file_id FROM raw.landing_files WHERE file_name LIKE '%new.csv'))")


def _run_core_round(copy_of, tmp_path, monkeypatch, instance, sql: dict[str, str],
                    after_ingest: str | None = None):
    settings = copy_of(_landing_with(tmp_path, _NEW_FILES))
    before = _marts_snapshot(settings)
    _tamper_sql(monkeypatch, sql)
    if after_ingest:
        original = raw.ingest

        def ingest(s, run_id=None):
            summary = original(s, run_id)
            with warehouse.open_warehouse(s) as con:
                for statement in warehouse.split_statements(after_ingest):
                    con.execute(statement)
            return summary

        monkeypatch.setattr(assets_raw, "ingest", ingest)
    result = materialize_all(settings, instance)
    assert not result.success
    assert _marts_snapshot(settings) == before
    assert not [m for m in result.get_asset_materialization_events()
                if m.asset_key.to_user_string().startswith("marts/")]
    return settings, result


def test_blocking_raw_checks(copy_of, tmp_path, monkeypatch, instance):
    rows = "raw.event_rows"
    new = _core_file_rows(rows)
    after_ingest = (
        f"UPDATE {rows} SET row_number = row_number + 100000 WHERE rowid = "
        f"(SELECT max(rowid) FROM {rows} WHERE file_id IN (SELECT file_id FROM raw.landing_files "
        "WHERE file_name LIKE '%new.csv'));\n"
        f"UPDATE {rows} SET extra_columns = '{{not json' WHERE rowid = "
        f"(SELECT max(rowid) - 1 FROM {rows} WHERE file_id IN (SELECT file_id FROM raw.landing_files "
        "WHERE file_name LIKE '%new.csv'));\n"
        f"INSERT INTO {rows} SELECT * FROM {rows} WHERE rowid = {new};"
    )
    _, result = _run_core_round(copy_of, tmp_path, monkeypatch, instance, {}, after_ingest)
    assert _failed_blocking(result) == {("raw/event_rows", c) for c in
                                        ("row_position_unique", "row_number_within_manifest",
                                         "extra_columns_valid_json")}
    assert "blocking data-quality check" in _step_failure_message(result, "landing_files")


def test_blocking_event_and_applicant_checks(copy_of, tmp_path, monkeypatch, instance):
    e, a = "core.events", "core.applicants"
    events_sql = "\n".join([
        _one(e, "campaign_id = ' '", f"rowid = {_core_file_rows(e)}"),
        _one(e, "outcome = 'maybe'", f"rowid = {_core_file_rows(e)} + 1"),
        _one(e, "stage = 'interview'", f"rowid = {_core_file_rows(e)} + 2"),
        _one(e, "stage_order = 9", f"rowid = {_core_file_rows(e)} + 3"),
        f"INSERT INTO {e} SELECT * FROM {e} WHERE rowid = {_core_file_rows(e)} + 5;",
    ])
    applicants_sql = "\n".join([
        _one(a, "applicant_id = ''", "applicant_id = 'PNEW0'"),
        f"INSERT INTO {a} SELECT * FROM {a} WHERE applicant_id = 'PNEW1';",
        # a group outside the configured vocabulary, in every characteristic at once
        _one(a, "groups = list_transform(groups, lambda g: 'Martian')", "applicant_id = 'PNEW2'"),
    ])
    settings, result = _run_core_round(copy_of, tmp_path, monkeypatch, instance,
                                       {"core/events.sql": events_sql,
                                        "core/applicants.sql": applicants_sql})
    assert _failed_blocking(result) == {
        *[("core/events", c) for c in ("required_ids_present", "outcome_in_vocabulary",
                                       "stage_in_vocabulary", "stage_order_matches_stage",
                                       "event_id_unique")],
        *[("core/applicants", c) for c in ("applicant_id_present", "applicant_id_unique",
                                           "groups_known")],
    }
    # a stage outside the vocabulary has no stage number to match: both checks fail
    for step in ("core__events", "core__applicants"):
        assert "blocking data-quality check" in _step_failure_message(result, step)
    # the history names them too
    failed = {r["check_name"] for r in _history(settings, result.run_id) if not r["success"]}
    assert {"event_id_unique", "groups_known"} <= failed


def test_blocking_outcome_and_rejection_checks(copy_of, tmp_path, monkeypatch, instance):
    so, ap = "core.stage_outcomes", "core.applications"
    new_person = "applicant_id LIKE 'PNEW%'"
    outcomes_sql = "\n".join([
        f"INSERT INTO {so} SELECT * FROM {so} WHERE rowid = (SELECT min(rowid) FROM {so} WHERE {new_person});",
        _one(so, "outcome = 'failed'", f"{new_person} AND stage_order = 2"),
    ])
    # after core/applications.sql, which rebuilds the applications of changed keys
    applications_sql = (f"INSERT INTO {ap} SELECT * FROM {ap} WHERE rowid = "
                        f"(SELECT min(rowid) FROM {ap} WHERE {new_person});")
    rejected_sql = (
        "INSERT INTO quality.rejected_rows SELECT e.file_id, e.row_number, 'events', 'x', 'test', "
        "'core', '{}', now() FROM core.events AS e WHERE e.rowid = " + _core_file_rows("core.events") + ";"
    )
    _, result = _run_core_round(copy_of, tmp_path, monkeypatch, instance,
                                {"core/stage_outcomes.sql": outcomes_sql,
                                 "core/applications.sql": applications_sql,
                                 "core/events.sql": rejected_sql})
    assert _failed_blocking(result) == {
        ("core/stage_outcomes", "one_outcome_per_application_stage"),
        ("core/stage_outcomes", "outcome_from_accepted_event"),
        ("core/applications", "one_row_per_application"),
        ("quality/rejected_rows", "rejected_rows_not_counted"),
    }
