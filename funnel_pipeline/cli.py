"""`funnel` command line: demo, run, rebuild, backup, prune-runs, prune-reports,
prepare-instance and ui, for people, not Dagster.

`funnel demo` is the README's first command: it writes a synthetic landing folder (if
the configured one is empty), runs the nightly job through a real Dagster instance,
and prints where the results are and which drop-out points were flagged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import UTC
from pathlib import Path

REPO_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
DEFAULT_DAGSTER_HOME = Path("data/dagster_home")


def ensure_dagster_home() -> Path:
    """Use $DAGSTER_HOME, or data/dagster_home holding a copy of the repo's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        source = REPO_DAGSTER_YAML if REPO_DAGSTER_YAML.exists() else None
        if source is not None:
            shutil.copy(source, target)
        else:
            target.write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def run_nightly() -> tuple[bool, str]:
    """Execute the `nightly` job in this process, recorded in the Dagster instance.

    Returns (success, the cause of the failure in words: "" on success)."""
    import dagster as dg

    from funnel_pipeline.definitions import defs
    from funnel_pipeline.operations.run_health import worker_tags

    instance = dg.DagsterInstance.get()
    # the worker-host tag lets run monitoring fail this run if this process is killed
    result = defs.get_job_def("nightly").execute_in_process(
        instance=instance, tags=worker_tags(), raise_on_error=False)
    return result.success, failure_causes(result)


def failure_causes(result) -> str:
    """Each failed step's cause in words (causes.describe_failure), printed as it comes and
    returned joined for the command's last line."""
    from funnel_pipeline.causes import describe_failure
    from funnel_pipeline.settings import Settings

    causes = []
    for event in result.all_events:
        if event.is_step_failure:
            cause = describe_failure(event.event_specific_data.error,
                                     Settings.from_env().duckdb_path)
            print(f"step {event.step_key} failed: {cause}", file=sys.stderr)
            if cause not in causes:
                causes.append(cause)
    return "; ".join(causes)


def print_results() -> None:
    """Where the results are, and the flagged drop-out points (aggregates only)."""
    import duckdb

    from funnel_pipeline.settings import Settings

    settings = Settings.from_env()
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema = 'marts' ORDER BY 1").fetchall()]
        flagged = con.execute(
            "SELECT stage, characteristic, group_name, passed, passed + failed + withdrawn, "
            "pass_rate, adverse_impact_ratio, fisher_p_value FROM marts.stage_pass_rates "
            "WHERE flagged ORDER BY stage_order, adverse_impact_ratio").fetchall()
    finally:
        con.close()
    print(f"\nDuckDB database : {settings.duckdb_path.resolve()}")
    print(f"Marts           : {', '.join(tables)}")
    print(f"Reports         : {settings.reports_dir.resolve()}")
    print(f"Dagster home    : {os.environ['DAGSTER_HOME']}  (UI: funnel ui)")
    print(f"\nFlagged drop-out points (adverse-impact ratio < 0.8 and Fisher p < 0.05): {len(flagged)}")
    for stage, char, group, passed, decided, rate, ratio, p in flagged:
        print(f"  {stage:<12} {char}={group:<16} passed {passed}/{decided} ({rate:.1%})  "
              f"ratio {ratio:.2f}  p={p:.2g}")


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a funnel configuration file and print the funnel it describes."""
    from funnel_pipeline.funnel_config import ConfigError, describe, load_config

    try:
        config = load_config(args.path)
    except ConfigError as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return 2
    print(describe(config))
    print("\nThe configuration is valid.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from funnel_pipeline.funnel_config import ConfigError, load_config
    from funnel_pipeline.settings import Settings
    from funnel_pipeline.synthetic import generate_landing

    ensure_dagster_home()
    if args.config:
        os.environ["FUNNEL_CONFIG"] = str(Path(args.config).resolve())
    settings = Settings.from_env()
    try:
        config = load_config(settings.config_path)
    except ConfigError as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return 2
    landing = settings.landing_dir
    if not landing.exists() or not any(landing.iterdir()):
        summary = generate_landing(landing, applicants=args.applicants, seed=args.seed, fmt="both",
                                   config=config)
        print(f"Wrote synthetic demo landing folder {landing} ({summary.events} events, "
              f"{summary.applicants} applicants)")
    else:
        print(f"Landing folder {landing} is not empty: using what is there")
    return cmd_run(args)


def cmd_run(args: argparse.Namespace) -> int:
    ensure_dagster_home()
    started = time.monotonic()
    ok, cause = run_nightly()
    if ok:
        print(f"nightly job succeeded in {time.monotonic() - started:.1f} s")
        print_results()
        return 0
    print(f"nightly job FAILED after {time.monotonic() - started:.1f} s: {cause}", file=sys.stderr)
    return 1


# --- operations (issue 7; docs/OPERATIONS.md) -------------------------------------------

def _wait_until_no_run(instance, wait_seconds: float) -> list[str]:
    """Run ids still queued / in progress after waiting up to `wait_seconds` (empty = free)."""
    from funnel_pipeline.operations.sensors import busy_run_ids

    deadline = time.monotonic() + wait_seconds
    busy = busy_run_ids(instance)
    while busy and time.monotonic() < deadline:
        time.sleep(min(5.0, max(0.1, deadline - time.monotonic())))
        busy = busy_run_ids(instance)
    return busy


def _remove_duckdb_file(path: Path) -> None:
    for leftover in (path, Path(f"{path}.wal")):
        leftover.unlink(missing_ok=True)


def rebuild(settings, instance, tags: dict[str, str] | None = None) -> bool:
    """Build everything from the landing folder into a new DuckDB file; swap it in on success.

    The nightly job runs (recorded in the Dagster instance, so the queue and the landing
    sensor wait for it) against `.<name>.rebuild-<pid>` beside the live file, and the
    reports into a folder beside the live one. Only when the run succeeded and the new
    file opens does `os.replace` put it in place (atomic on one file system): readers
    see the old database or the new one, never a half-built one. Before the swap the
    live file is opened for writing (waiting out any writer or reader, like a step) and
    checkpointed, so no write-ahead log of the old file is left beside the new one.
    On failure the temporary file and folder are removed and the live ones untouched.
    """
    import dataclasses

    import duckdb

    from funnel_pipeline import warehouse
    from funnel_pipeline.definitions import defs
    from funnel_pipeline.operations.retention import carry_over_charts
    from funnel_pipeline.resources import FunnelWarehouse

    target = Path(settings.duckdb_path).resolve()
    reports = Path(settings.reports_dir).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.with_name(f".{target.name}.rebuild-{os.getpid()}")
    work_reports = reports.with_name(f".{reports.name}.rebuild-{os.getpid()}")
    _remove_duckdb_file(work)
    shutil.rmtree(work_reports, ignore_errors=True)
    temp = dataclasses.replace(settings, duckdb_path=work, reports_dir=work_reports)
    try:
        result = defs.get_job_def("nightly").execute_in_process(
            instance=instance, resources={"warehouse": FunnelWarehouse.from_settings(temp)},
            tags={"funnel/rebuild": "true", **(tags or {})}, raise_on_error=False)
        if not result.success:
            cause = failure_causes(result)
            print(f"rebuild FAILED ({target} left as it was): {cause}", file=sys.stderr)
            return False
        check = duckdb.connect(str(work), read_only=True)  # the new file opens, marts present
        try:
            marts = check.execute("SELECT count(*) FROM information_schema.tables "
                                  "WHERE table_schema = 'marts'").fetchone()[0]
        finally:
            check.close()
        if not marts or Path(f"{work}.wal").exists():
            print(f"rebuild produced an incomplete file ({marts} marts); {target} left as it was",
                  file=sys.stderr)
            return False
        if target.exists():
            with warehouse.connect(target, memory_limit=settings.duckdb_memory_limit) as live:
                live.execute("CHECKPOINT")
                os.replace(work, target)
        else:
            os.replace(work, target)
        if work_reports.exists():
            # earlier materialisations link the old chart files: keep them (pruned by age)
            carry_over_charts(reports, work_reports)
            aside = reports.with_name(f".{reports.name}.old-{os.getpid()}")
            if reports.exists():
                os.replace(reports, aside)
            os.replace(work_reports, reports)
            shutil.rmtree(aside, ignore_errors=True)
        return True
    finally:
        _remove_duckdb_file(work)
        shutil.rmtree(work_reports, ignore_errors=True)


def missing_loaded_files(settings) -> list[str]:
    """Files the live database loaded that are gone from the landing folder (a rebuild,
    which reads only the folder, would drop their rows from every table)."""
    from funnel_pipeline import warehouse
    from funnel_pipeline.raw import check_loaded_files

    if not Path(settings.duckdb_path).exists():
        return []
    with warehouse.connect(settings.duckdb_path, read_only=True,
                           memory_limit=settings.duckdb_memory_limit) as con:
        known = con.execute("SELECT count(*) FROM information_schema.tables "
                            "WHERE table_schema = 'raw' AND table_name = 'landing_files'").fetchone()[0]
        return check_loaded_files(con, Path(settings.landing_dir)).gone if known else []


def cmd_rebuild(args: argparse.Namespace) -> int:
    import dagster as dg

    from funnel_pipeline.operations.run_health import worker_tags
    from funnel_pipeline.settings import Settings

    ensure_dagster_home()
    gone = missing_loaded_files(Settings.from_env())
    if gone and not args.allow_missing:
        print(f"rebuild refused: {len(gone)} loaded file(s) are no longer in the landing folder, "
              "and a rebuild would drop their rows from every table:", file=sys.stderr)
        for name in gone:
            print(f"  {name}", file=sys.stderr)
        print("Put them back, or rerun with --allow-missing to rebuild without them.",
              file=sys.stderr)
        return 2
    if gone:
        print(f"rebuilding without {len(gone)} file(s) gone from the landing folder: "
              f"{', '.join(gone)}")
    instance = dg.DagsterInstance.get()
    busy = _wait_until_no_run(instance, args.wait)
    if busy:
        print(f"run {busy[0]} is still queued or in progress after {args.wait:.0f} s; "
              "try again later (or --wait longer)", file=sys.stderr)
        return 2
    started = time.monotonic()
    ok = rebuild(Settings.from_env(), instance, tags=worker_tags())
    print(f"rebuild {'succeeded' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


def backup(settings, destination: Path, keep: int, wait_seconds: float) -> Path:
    """Copy the DuckDB file while holding a read-only connection (no writer can start).

    The copy is `funnel-<UTC time>.duckdb` in `destination` (plus `.wal` if the live file
    had one); it is opened once to prove it reads; only the newest `keep` copies stay.
    """
    from datetime import datetime

    import duckdb

    from funnel_pipeline import warehouse

    source = Path(settings.duckdb_path)
    if not source.exists():
        raise FileNotFoundError(f"no DuckDB file at {source} (FUNNEL_DUCKDB_PATH)")
    destination.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    copy = destination / f"funnel-{stamp}.duckdb"
    partial = destination / f".{copy.name}.part"
    with warehouse.connect(source, read_only=True, lock_wait_seconds=wait_seconds):
        shutil.copyfile(source, partial)
        if Path(f"{source}.wal").exists():
            shutil.copyfile(f"{source}.wal", f"{copy}.wal")
    os.replace(partial, copy)
    check = duckdb.connect(str(copy), read_only=True)
    try:
        check.execute("SELECT count(*) FROM information_schema.tables").fetchone()
    finally:
        check.close()
    for old in sorted(destination.glob("funnel-*.duckdb"))[:-keep] if keep > 0 else []:
        _remove_duckdb_file(old)
    return copy


def cmd_backup(args: argparse.Namespace) -> int:
    from funnel_pipeline.settings import Settings

    settings = Settings.from_env()
    destination = Path(args.to) if args.to else Path(settings.duckdb_path).parent / "backups"
    copy = backup(settings, destination, args.keep, args.wait)
    print(f"backup written: {copy}")
    return 0


def cmd_prepare_instance(args: argparse.Namespace) -> int:
    """Create $DAGSTER_HOME's storage once, under a lock (systemd `ExecStartPre=`)."""
    from funnel_pipeline.operations.instance import prepare_instance

    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME)
    prepared = prepare_instance(home, REPO_DAGSTER_YAML, timeout=args.wait)
    os.environ["DAGSTER_HOME"] = str(prepared)
    print(f"Dagster instance ready: {prepared}")
    return 0


def cmd_prune_runs(args: argparse.Namespace) -> int:
    """Delete finished runs (records, event logs, captured stdout/stderr) older than N days."""
    from datetime import datetime, timedelta

    import dagster as dg

    from funnel_pipeline.operations.retention import prune_runs

    ensure_dagster_home()
    instance = dg.DagsterInstance.get()
    cutoff = datetime.now(UTC) - timedelta(days=args.older_than_days)
    report = prune_runs(instance, cutoff)
    print(f"deleted {len(report.run_ids)} run(s) created before {cutoff:%Y-%m-%d %H:%M} UTC")
    return 0


def cmd_prune_reports(args: argparse.Namespace) -> int:
    """Delete chart files past their age that no recent materialisation links to."""
    import dagster as dg

    from funnel_pipeline.operations.retention import prune_reports
    from funnel_pipeline.settings import Settings

    ensure_dagster_home()
    settings = Settings.from_env()
    instance = dg.DagsterInstance.get()
    busy = _wait_until_no_run(instance, args.wait)
    if busy:  # a run may be about to reuse an old picture: try again next time
        print(f"run {busy[0]} is queued or in progress; nothing pruned", file=sys.stderr)
        return 2
    days = settings.chart_retention_days if args.older_than_days is None else args.older_than_days
    keep = settings.chart_keep_materializations if args.keep_last is None else args.keep_last
    report = prune_reports(instance, settings.reports_dir, days, keep, dry_run=args.dry_run)
    print(f"{'would have ' if args.dry_run else ''}{report.summary()} "
          f"(older than {days:g} days and not linked from the last {keep} materialisations)")
    return 0


# --- the UI (issue 6): `dagster dev` + the chart server, started and stopped together ----

UI_STOP_TIMEOUT_S = 30.0


def _restore_default_signals() -> None:  # runs in the child, between fork and exec
    import signal

    # a shell running us in the background may have set SIGINT to "ignored", which
    # children would inherit: `dagster dev` would then never stop (docs STACK-FACTS)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def ui_commands(settings, host: str, port: int, chart_host: str, chart_port: int | None,
                ) -> tuple[list[str], list[str], Path, int]:
    """Command lines of the chart server and of `dagster dev`; the charts folder; its port."""
    from urllib.parse import urlsplit

    charts_dir = (Path(settings.reports_dir) / "charts").resolve()
    if chart_port is None:
        chart_port = urlsplit(settings.chart_base_url).port or 3031
    # the auditor report too, under /quality/ (a browser refuses file:// links from the UI)
    quality_dir = (Path(settings.reports_dir) / "quality").resolve()
    server = [sys.executable, "-m", "funnel_pipeline.charts.server", "--dir", str(charts_dir),
              "--mount", f"quality={quality_dir}",
              "--host", chart_host, "--port", str(chart_port)]
    dagster = [sys.executable, "-m", "dagster", "dev", "-m", "funnel_pipeline.definitions",
               "--host", host, "--port", str(port)]
    return server, dagster, charts_dir, chart_port


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _stop_children(children: list) -> None:
    """Terminate each child, wait, then kill it; then clear what is left of its group.

    Each child leads its own process group; `dagster dev` has children of its own
    (webserver, daemon, code server) that it stops when terminated. Whatever of a group
    outlives its leader gets SIGTERM, then SIGKILL.
    """
    import signal
    import subprocess

    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + UI_STOP_TIMEOUT_S
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=5)
    for child in children:
        for sig, pause in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            if not _group_alive(child.pid):
                break
            try:
                os.killpg(child.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            end = time.monotonic() + pause
            while time.monotonic() < end and _group_alive(child.pid):
                time.sleep(0.1)


def cmd_ui(args: argparse.Namespace) -> int:
    """Start `dagster dev` and the chart server; stop both on Ctrl-C / SIGTERM or if one dies."""
    import signal
    import subprocess

    from funnel_pipeline.operations.instance import prepare_instance
    from funnel_pipeline.settings import Settings

    home = prepare_instance(ensure_dagster_home())  # `dagster dev` opens it from 3 processes
    settings = Settings.from_env()
    server_cmd, dagster_cmd, charts_dir, chart_port = ui_commands(
        settings, args.host, args.port, args.chart_host, args.chart_port)
    for folder in ("charts", "quality"):  # the chart server serves both; they must exist
        (Path(settings.reports_dir) / folder).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file():  # running from a source checkout
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(checkout), env.get("PYTHONPATH")) if p)
    stop = {"signal": 0}

    def on_signal(signum: int, _frame: object) -> None:
        stop["signal"] = signum

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    children: list[subprocess.Popen] = []
    names: dict[int, str] = {}
    try:
        for name, cmd in (("chart server", server_cmd), ("dagster dev", dagster_cmd)):
            # own process group: Ctrl-C reaches only us, and we stop each group as a whole
            child = subprocess.Popen(cmd, env=env, preexec_fn=_restore_default_signals,  # noqa: PLW1509 - no threads yet
                                     start_new_session=True)
            children.append(child)
            names[child.pid] = name
        print(f"Dagster UI     : http://{args.host}:{args.port}/  (DAGSTER_HOME={home})", flush=True)
        print(f"Chart server   : http://{args.chart_host}:{chart_port}/ serving {charts_dir}", flush=True)
        print(f"Chart links use: {settings.chart_base_url} (FUNNEL_CHART_BASE_URL)", flush=True)
        from urllib.parse import urlsplit

        if (urlsplit(settings.chart_base_url).port or 80) != chart_port:
            print(f"warning: charts are served on port {chart_port} but the links point at "
                  f"{settings.chart_base_url}: set FUNNEL_CHART_BASE_URL to match",
                  file=sys.stderr, flush=True)
        print("Press Ctrl-C to stop both.", flush=True)
        while not stop["signal"]:
            dead = [c for c in children if c.poll() is not None]
            if dead:
                print(f"{names[dead[0].pid]} exited with code {dead[0].returncode}; "
                      "stopping the other process", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.3)
        print("Stopping the Dagster UI and the chart server ...", flush=True)
        return 0
    finally:
        _stop_children(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="funnel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="generate demo data (if the landing folder is empty) and run")
    demo.add_argument("--applicants", type=int, default=5000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--config", default=None,
                      help="a force's funnel configuration (TOML, docs/CONFIGURATION.md); the demo "
                           "data follows it (default: $FUNNEL_CONFIG, else the built-in funnel)")
    demo.set_defaults(func=cmd_demo)
    check = sub.add_parser("check-config", help="validate a funnel configuration file and print "
                                                "the funnel it describes")
    check.add_argument("path", help="the TOML file (docs/CONTRACT.md section 8)")
    check.set_defaults(func=cmd_check_config)
    run = sub.add_parser("run", help="run the nightly job now on $FUNNEL_LANDING_DIR")
    run.set_defaults(func=cmd_run)
    rebuild_p = sub.add_parser("rebuild", help="rebuild everything from the landing folder into a "
                               "new DuckDB file and swap it in on success")
    rebuild_p.add_argument("--wait", type=float, default=600.0,
                           help="seconds to wait for a queued / running run to finish (default 600)")
    rebuild_p.add_argument("--allow-missing", action="store_true",
                           help="rebuild even when files loaded before are gone from the landing "
                                "folder (their rows are dropped); without it the rebuild refuses "
                                "and lists them")
    rebuild_p.set_defaults(func=cmd_rebuild)
    backup_p = sub.add_parser("backup", help="copy the DuckDB file while no run writes it")
    backup_p.add_argument("--to", default="", help="folder for the copies (default: <db folder>/backups)")
    backup_p.add_argument("--keep", type=int, default=14, help="copies to keep (default 14)")
    backup_p.add_argument("--wait", type=float, default=3600.0,
                          help="seconds to wait for a running writer (default 3600)")
    backup_p.set_defaults(func=cmd_backup)
    prepare = sub.add_parser("prepare-instance", help="create the Dagster instance's storage "
                             "once, under a lock (run before the daemon and the webserver)")
    prepare.add_argument("--wait", type=float, default=300.0,
                         help="seconds to wait for another process preparing it (default 300)")
    prepare.set_defaults(func=cmd_prepare_instance)
    prune = sub.add_parser("prune-runs", help="delete finished Dagster runs and their logs")
    prune.add_argument("--older-than-days", type=float, default=90.0)
    prune.set_defaults(func=cmd_prune_runs)
    prune_rep = sub.add_parser("prune-reports", help="delete old chart pictures and reports "
                               "not linked from the latest materialisations")
    prune_rep.add_argument("--older-than-days", type=float, default=None,
                           help="age before a file may go (default FUNNEL_CHART_RETENTION_DAYS, 30)")
    prune_rep.add_argument("--keep-last", type=int, default=None,
                           help="materialisations per chart asset whose files always stay "
                                "(default FUNNEL_CHART_KEEP_MATERIALIZATIONS, 10)")
    prune_rep.add_argument("--dry-run", action="store_true", help="only say what would go")
    prune_rep.add_argument("--wait", type=float, default=600.0,
                           help="seconds to wait for a queued / running run (default 600)")
    prune_rep.set_defaults(func=cmd_prune_reports)
    ui = sub.add_parser("ui", help="start the Dagster UI (dagster dev) and the chart server; "
                        "Ctrl-C stops both")
    ui.add_argument("--host", default="127.0.0.1", help="Dagster UI address (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=3000, help="Dagster UI port (default 3000)")
    ui.add_argument("--chart-host", default="127.0.0.1",
                    help="chart server address (default 127.0.0.1)")
    ui.add_argument("--chart-port", type=int, default=None,
                    help="chart server port (default: the port of FUNNEL_CHART_BASE_URL, 3031)")
    ui.set_defaults(func=cmd_ui)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
