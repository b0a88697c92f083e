"""Issue 19, "current Dagster", fast tier: the one-slot DuckDB pool, the marts' freshness
policy, why the marts keep their own staging gate, and no deprecated API.

The real daemon's side of the pool and of freshness is in test_operations_pool.py and
test_operations_freshness.py; these run Dagster in-process on a real SQLite instance
(the repository's dagster.yaml in a temporary DAGSTER_HOME).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from conftest import REPO_ROOT
from test_operations_run_health import _kill, _start_sleeper

from funnel_pipeline.definitions import defs
from funnel_pipeline.operations import freshness, pools, run_health
from funnel_pipeline.settings import Settings

POOL = pools.WAREHOUSE_POOL


# --- the pool --------------------------------------------------------------------------

@pytest.mark.parametrize("job", ["nightly", "ingest"])
def test_every_step_is_in_the_warehouse_pool(job):
    """Every step of both jobs opens the DuckDB file, so every step takes the slot."""
    nodes = defs.resolve_job_def(job).graph.nodes
    assert len(nodes) >= 8
    assert {node.name: node.definition.pool for node in nodes} == {n.name: POOL for n in nodes}


def test_dagster_yaml_gives_every_pool_one_slot_and_frees_dead_runs_slots(dagster_home):
    instance = dg.DagsterInstance.get()
    config = instance.get_concurrency_config()
    assert config.pool_config.default_pool_limit == 1
    assert config.pool_config.pool_granularity.value == "op"
    assert config.run_queue_config.max_concurrent_runs == 1       # the queue stays
    assert 0 < instance.run_monitoring_settings["free_slots_after_run_end_seconds"] <= 30
    yaml_text = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert yaml_text["concurrency"]["pools"] == {"granularity": "op", "default_limit": 1}


def _pool_job(name: str, seen: list[tuple[str, float, float]]) -> dg.JobDefinition:
    @dg.op(name=f"{name}_writes", pool=POOL)
    def writes() -> None:
        started = time.time()
        time.sleep(0.5)
        seen.append((name, started, time.time()))

    @dg.job(name=name, executor_def=dg.in_process_executor)
    def job():
        writes()

    return job


def test_a_second_runs_step_waits_for_the_slot(dagster_home):
    """A step of a run started outside the queue (like `funnel run`) waits while another
    run holds the slot, says so in its event log, and starts once the slot is free."""
    instance = dg.DagsterInstance.get()
    holder = str(uuid.uuid4())
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(POOL)
    assert storage.claim_concurrency_slot(POOL, holder, "other_step").is_claimed
    seen: list = []
    freed_at: list[float] = []

    def free_later() -> None:
        time.sleep(2.0)
        freed_at.append(time.time())
        storage.free_concurrency_slot_for_step(holder, "other_step")

    threading.Thread(target=free_later, daemon=True).start()
    result = _pool_job("second", seen).execute_in_process(instance=instance)
    assert result.success
    [(_, started, _)] = seen
    assert started >= freed_at[0]
    messages = [e.message for e in result.all_events if e.event_type_value == "ENGINE_EVENT"]
    assert f"Step blocked by limit for pool {POOL}" in messages
    assert storage.get_concurrency_run_ids() == set()             # freed after the step


def test_the_cli_frees_only_slots_of_finished_runs(dagster_home):
    instance = dg.DagsterInstance.get()
    storage = instance.event_log_storage
    storage.set_concurrency_slots(POOL, 2)
    ended = instance.add_run(dg.DagsterRun(job_name="nightly", run_id=str(uuid.uuid4()),
                                           status=dg.DagsterRunStatus.FAILURE))
    running = instance.add_run(dg.DagsterRun(job_name="nightly", run_id=str(uuid.uuid4()),
                                             status=dg.DagsterRunStatus.STARTED))
    for run in (ended, running):
        assert storage.claim_concurrency_slot(POOL, run.run_id, "mart_tables").is_claimed
    assert pools.free_slots_of_finished_runs(instance) == [ended.run_id]
    assert storage.get_concurrency_run_ids() == {running.run_id}


def test_the_cli_fails_a_run_whose_worker_is_gone_and_leaves_a_live_one(dagster_home, tmp_path):
    instance = dg.DagsterInstance.get()
    live, live_run = _start_sleeper(tmp_path)
    try:
        assert run_health.fail_lost_runs(instance) == []
        _kill(live)
        assert run_health.fail_lost_runs(instance) == [live_run.run_id]
        assert instance.get_run_by_id(live_run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert run_health.fail_lost_runs(instance) == []
    finally:
        _kill(live)


# --- freshness ---------------------------------------------------------------------------

def test_every_mart_and_only_the_marts_have_the_freshness_policy():
    graph = defs.resolve_asset_graph()
    policies = {k.to_user_string(): graph.get(k).freshness_policy
                for k in graph.get_all_asset_keys()}
    marts = {k: p for k, p in policies.items() if k.startswith("marts/")}
    assert len(marts) >= 10
    expected = timedelta(hours=Settings().marts_max_age_hours)
    assert {p.fail_window.to_timedelta() for p in marts.values()} == {expected}
    assert expected == timedelta(hours=26)                        # a day and the night's run
    assert all(p is None for k, p in policies.items() if not k.startswith("marts/"))


def test_the_window_comes_from_the_setting(monkeypatch):
    monkeypatch.setenv("FUNNEL_MARTS_MAX_AGE_HOURS", "74")
    specs = [dg.AssetSpec(["marts", "x"], group_name="marts"), dg.AssetSpec(["core", "y"])]
    mapped = freshness.with_marts_freshness(specs, Settings.from_env())
    assert mapped[0].freshness_policy.fail_window.to_timedelta() == timedelta(hours=74)
    assert mapped[1].freshness_policy is None


# --- blocking checks: why the marts keep their staging gate -------------------------------

def test_a_dagster_blocking_check_cannot_keep_yesterdays_table(tmp_path):
    """Dagster's own blocking check fails the step and skips what is downstream, but only
    after the asset's step ran: the table it guards is already replaced. The marts and the
    publication therefore validate a staging build and swap it in only when it passes
    (test_validation_checks.py proves they keep yesterday's); Dagster's blocking flag is
    declared on those checks as well (checks.check_specs_for)."""
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE mart AS SELECT 'yesterday' AS v")

    @dg.asset(check_specs=[dg.AssetCheckSpec("ok", asset="mart", blocking=True)])
    def mart():
        with duckdb.connect(str(db)) as con:
            con.execute("CREATE OR REPLACE TABLE mart AS SELECT 'today, bad' AS v")
        yield dg.MaterializeResult(check_results=[dg.AssetCheckResult(
            check_name="ok", passed=False, severity=dg.AssetCheckSeverity.ERROR)])

    @dg.asset(deps=[mart])
    def downstream() -> None:
        pass

    result = dg.materialize([mart, downstream], raise_on_error=False,
                            instance=dg.DagsterInstance.ephemeral())
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.event_specific_data.error.cls_name == "DagsterAssetCheckFailedError"
    assert not any(e.is_step_success and e.step_key == "downstream" for e in result.all_events)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT v FROM mart").fetchone() == ("today, bad",)


# --- no deprecated API ---------------------------------------------------------------------

def test_loading_and_resolving_the_definitions_warns_nothing():
    """`python -W error`: any Dagster deprecation (get_job_def of an asset job,
    get_sensor_def, context.run_id, ...) or other warning while loading fails this."""
    code = ("import dagster as dg\n"
            "from funnel_pipeline.definitions import defs\n"
            "dg.Definitions.validate_loadable(defs)\n"
            "[defs.resolve_job_def(j) for j in ('nightly', 'ingest')]\n"
            "[defs.resolve_sensor_def(s) for s in ('landing_sensor', 'failure_alerts')]\n"
            "defs.resolve_schedule_def('nightly_schedule')\n"
            "defs.resolve_asset_graph()\n")
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_no_deprecated_dagster_calls_in_the_code():
    """The calls Dagster 1.11+ deprecates, which the test run warned about 48 times."""
    banned = ("context.run_id", ".get_job_def(", ".get_sensor_def(", ".get_schedule_def(",
              '"dagster", "dev"')
    roots = [REPO_ROOT / d for d in ("funnel_pipeline", "assets", "tests", "benchmarks")]
    here = Path(__file__).resolve()
    found = [f"{path.relative_to(REPO_ROOT)}: {word}"
             for root in roots for path in root.rglob("*.py") if path.resolve() != here
             for word in banned if word in path.read_text(encoding="utf-8")]
    assert found == []
