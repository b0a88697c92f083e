"""Issue 19: the UI shows when the marts are older than a night and a day.

Dagster's own freshness policy on every `marts/*` asset (operations/freshness.py), with
the window shrunk to its minimum for the test (FUNNEL_MARTS_MAX_AGE_HOURS; the real
default, 26 h, is checked in test_operations_current_dagster.py). The marts are built by
a real run into a real instance; a real `dagster-daemon` evaluates freshness (its
freshness daemon, every 2 s here) and a real `dagster-webserver` answers what the UI
asks (`freshnessStatusInfo`): HEALTHY while the marts are younger than the window,
DEGRADED ("failing freshness") once they are older, HEALTHY again after the next run.
Without the policy the UI has no freshness to show (`freshnessStatusInfo` is null).
"""

from __future__ import annotations

import signal
import time

import dagster as dg
import pytest
from ops_helpers import (
    copy_landing,
    free_port,
    fresh_home,
    funnel_env,
    graphql,
    run_job,
    start,
    stop,
    wait_for,
)

from funnel_pipeline.operations.instance import prepare_instance

#: Dagster's smallest window is one minute
WINDOW_HOURS = 70 / 3600
_QUERY = """{ assetNodes(assetKeys: [{path: ["marts", "stage_pass_rates"]},
                                     {path: ["core", "events"]}]) {
    assetKey { path }
    internalFreshnessPolicy { __typename ... on TimeWindowFreshnessPolicy { failWindowSeconds } }
    freshnessStatusInfo { freshnessStatus } } }"""


def _status(ui: str) -> dict[str, object] | None:
    data = graphql(ui, _QUERY)
    if data is None:
        return None
    return {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}


@pytest.mark.slow
def test_the_ui_shows_stale_marts(tmp_path, make_settings):
    settings = make_settings(copy_landing(tmp_path / "landing"))
    home = prepare_instance(fresh_home(tmp_path))
    instance = dg.DagsterInstance.from_config(str(home))
    # the daemon's landing sensor watches an empty folder: a run of its own would rebuild
    # the marts at a time of its choosing (this test's two runs are the nights)
    quiet = tmp_path / "no-deliveries"
    quiet.mkdir()
    env = funnel_env(home, settings, FUNNEL_MARTS_MAX_AGE_HOURS=str(WINDOW_HOURS),
                     FRESHNESS_DAEMON_INTERVAL_SECONDS="2", FUNNEL_LANDING_DIR=str(quiet))
    port = free_port()
    ui = f"http://127.0.0.1:{port}"
    daemon = start(["dagster-daemon", "run", "-m", "funnel_pipeline.definitions"], env,
                   tmp_path / "daemon.log")
    web = start(["dagster-webserver", "-m", "funnel_pipeline.definitions", "-h", "127.0.0.1",
                 "-p", str(port)], env, tmp_path / "web.log")
    try:
        before = wait_for(lambda: _status(ui), 120, "the webserver", web, tmp_path / "web.log")
        policy = before["marts/stage_pass_rates"]["internalFreshnessPolicy"]
        assert policy == {"__typename": "TimeWindowFreshnessPolicy", "failWindowSeconds": 70}
        assert before["core/events"]["internalFreshnessPolicy"] is None
        assert before["core/events"]["freshnessStatusInfo"] is None

        assert run_job(settings, instance).success                  # the night's run
        # the window runs from the mart's materialisation (the run goes on after it)
        built = instance.get_latest_materialization_event(
            dg.AssetKey(["marts", "stage_pass_rates"])).timestamp

        def mart_status() -> str:
            return _status(ui)["marts/stage_pass_rates"]["freshnessStatusInfo"]["freshnessStatus"]

        wait_for(lambda: mart_status() == "HEALTHY", 60, "the marts to be fresh", daemon,
                 tmp_path / "daemon.log", interval=1)
        fresh_until = time.time()
        wait_for(lambda: mart_status() == "DEGRADED", 120, "the marts to fail freshness",
                 daemon, tmp_path / "daemon.log", interval=1)
        stale_after = time.time() - built
        assert stale_after >= 70 and fresh_until - built < 70
        assert instance.get_runs_count() == 1                       # only the night's run
        records = instance.get_freshness_state_records([dg.AssetKey(["marts", "stage_pass_rates"])])
        assert records[dg.AssetKey(["marts", "stage_pass_rates"])].freshness_state.value == "FAIL"

        assert run_job(settings, instance).success                  # the next night
        wait_for(lambda: mart_status() == "HEALTHY", 60, "the marts to be fresh again", daemon,
                 tmp_path / "daemon.log", interval=1)
    finally:
        stop(web, signal.SIGTERM, timeout=30)
        stop(daemon, signal.SIGTERM, timeout=40)
        instance.dispose()
    print(f"freshness: the UI showed the marts failing freshness {stale_after:.0f} s after "
          "they were built (window 70 s)")
