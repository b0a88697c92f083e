"""Issue 7: deploy/dagster.postgres.yaml against a real PostgreSQL server started here
(Debian postgresql, 127.0.0.1 only, password auth); the pipeline's run lands in Postgres."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import dagster as dg
import pytest
from conftest import REPO_ROOT
from ops_helpers import copy_landing, run_job, wait_for

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str], **kw) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, capture_output=True, text=True, timeout=60, check=True, **kw)


@pytest.fixture
def postgres():
    if not PG_BIN:
        pytest.skip("Debian postgresql is not installed (/usr/lib/postgresql/*/bin)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a postgres user to run the server as")
    bin_dir = PG_BIN[-1]
    root = Path(tempfile.mkdtemp(prefix="funnel-pg-"))    # outside pytest's 0700 folders
    root.chmod(0o755)
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    password = "funnel-test-pw"
    (root / "pw").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        shutil.chown(root / "pw", "postgres")
    port = _free_port()
    started = False
    try:
        _as_postgres([f"{bin_dir}/initdb", "-D", str(data), "-U", "dagster", "--pwfile", str(root / "pw"),
                      "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"])
        _as_postgres([f"{bin_dir}/pg_ctl", "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60",
                      "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off", "start"])
        started = True
        import psycopg2

        def _connect():
            try:
                return psycopg2.connect(host="127.0.0.1", port=port, user="dagster",
                                        password=password, dbname="postgres")
            except psycopg2.OperationalError:
                return None

        con = wait_for(_connect, 30, "PostgreSQL to accept connections")
        con.autocommit = True
        con.cursor().execute("CREATE DATABASE dagster_runs")
        con.close()
        yield {"DAGSTER_PG_USERNAME": "dagster", "DAGSTER_PG_PASSWORD": password,
               "DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(port), "DAGSTER_PG_DB": "dagster_runs"}
    finally:
        if started:
            _as_postgres([f"{bin_dir}/pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_postgres_instance_records_the_pipeline_run(postgres, tmp_path, make_settings, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    for name, value in postgres.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    settings = make_settings(copy_landing(tmp_path / "landing"))

    instance = dg.DagsterInstance.get()
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        result = run_job(settings, instance, "ingest")
        assert result.success
    finally:
        instance.dispose()

    import psycopg2

    con = psycopg2.connect(host="127.0.0.1", port=int(postgres["DAGSTER_PG_PORT"]),
                           user="dagster", password=postgres["DAGSTER_PG_PASSWORD"],
                           dbname="dagster_runs")
    try:
        cur = con.cursor()
        cur.execute("SELECT pipeline_name, status FROM runs WHERE run_id = %s", (result.run_id,))
        assert cur.fetchall() == [("ingest", "SUCCESS")]
        cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = "
                    "'ASSET_MATERIALIZATION'", (result.run_id,))
        assert cur.fetchone()[0] >= 10
    finally:
        con.close()
    assert not list(home.glob("storage/*.db")), "nothing went to SQLite"
