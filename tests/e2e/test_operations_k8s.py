"""Issue 19, "past one machine, in config": deploy/helm/values.yaml (Dagster's Helm chart)
and deploy/k8s/*.yaml keep what the single-writer DuckDB file needs.

No cluster or `helm` binary here, so the files are checked for the invariants the docs
promise: PostgreSQL for Dagster's storage, a queue of one, one ReadWriteOnce volume
mounted at the paths the settings point at by the code server, every run pod and the
housekeeping job, all pinned to one node; run monitoring on and no run resumed in a
second pod; the same retention as dagster.yaml; a code location that loads.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import yaml
from conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"


def _values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def _manifests() -> dict[str, dict]:
    docs = [d for p in sorted((DEPLOY / "k8s").glob("*.yaml"))
            for d in yaml.safe_load_all(p.read_text()) if d]
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def _env(entries: list[dict]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in entries if "value" in e}


def test_dagster_storage_is_an_external_postgresql_with_a_secret():
    values = _values()
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlHost"] and values["postgresql"]["postgresqlDatabase"]
    assert values["global"]["postgresqlSecretName"] and not values["generatePostgresqlPasswordSecret"]
    assert "postgresqlPassword" not in values["postgresql"], "no password in the values file"
    assert values["telemetry"] == {"enabled": False}


def test_one_run_at_a_time_and_dead_pods_fail_their_runs():
    daemon = _values()["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] and coordinator["type"] == "QueuedRunCoordinator"
    assert coordinator["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] == 1
    monitoring = daemon["runMonitoring"]
    assert monitoring["enabled"] and monitoring["maxResumeRunAttempts"] == 0
    assert monitoring["pollIntervalSeconds"] <= 300, "a dead run pod is found within 5 minutes"
    launcher = _values()["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert launcher["config"]["k8sRunLauncher"]["runK8sConfig"]["jobSpecConfig"]["backoffLimit"] == 0


def test_one_readwriteonce_volume_at_the_settings_paths_on_one_node():
    values = _values()
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["codeServerArgs"] == ["-m", "funnel_pipeline.definitions"]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}  # run pods too
    [volume] = deployment["volumes"]
    [mount] = deployment["volumeMounts"]
    assert mount["name"] == volume["name"]
    claim = volume["persistentVolumeClaim"]["claimName"]
    manifests = _manifests()
    pvc = manifests[f"PersistentVolumeClaim/{claim}"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]

    root = PurePosixPath(mount["mountPath"])
    env = _env(deployment["env"])
    for name in ("FUNNEL_LANDING_DIR", "FUNNEL_DUCKDB_PATH", "FUNNEL_REPORTS_DIR",
                 "FUNNEL_DUCKDB_TEMP_DIR"):
        assert PurePosixPath(env[name]).is_relative_to(root), name

    node = deployment["nodeSelector"]
    run_pods = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["podSpecConfig"]
    assert node and run_pods["nodeSelector"] == node
    job = manifests["CronJob/funnel-housekeeping"]
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == node
    assert {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]
            if "persistentVolumeClaim" in v} == {claim}


def test_housekeeping_prunes_like_the_systemd_timer():
    job = _manifests()["CronJob/funnel-housekeeping"]
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    [container] = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    command = " ".join(container["args"])
    timer_service = (DEPLOY / "funnel-prune.service").read_text()
    for step in ("funnel prune-reports", "funnel prune-runs --older-than-days 90"):
        assert step in command and step in timer_service
    env = {e["name"]: e for e in container["env"]}
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == \
        _values()["global"]["postgresqlSecretName"]


def test_retention_matches_dagster_yaml():
    local = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())["retention"]
    helm = _values()["retention"]
    assert helm["enabled"]
    assert helm["schedule"]["purgeAfterDays"] == local["schedule"]["purge_after_days"]
    assert helm["sensor"]["purgeAfterDays"] == local["sensor"]["purge_after_days"]


def test_the_code_location_the_chart_serves_loads():
    import importlib

    [deployment] = _values()["dagster-user-deployments"]["deployments"]
    module = importlib.import_module(deployment["codeServerArgs"][1])
    assert {j.name for j in module.defs.jobs} >= {"nightly", "ingest"}
    assert Path(module.__file__).is_file()
