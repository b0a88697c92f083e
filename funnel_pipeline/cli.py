"""`funnel` command line: demo, check-config, run, rebuild, backup, prune-runs,
prune-reports, prepare-instance and ui, for people, not Dagster.

`funnel demo` is the README's first command: it writes a synthetic landing folder (if
the configured one is empty), runs the nightly job through a real Dagster instance,
and prints where the results are and which drop-out points were flagged.

The console is for a person: a run shows its progress in a few lines (operations/
progress.py) instead of Dagster's event stream, an expected condition (a bad
configuration, a locked file, a missing folder) ends in one sentence and an exit code
rather than a traceback, results are aligned, and every command it suggests is spelled
as it can be typed here (`.venv/bin/funnel ui` when `funnel` is not on PATH). `--help`
of each command says what it does, its defaults and the environment variables it reads
(from settings.py, where each variable is defined once).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
import time
import uuid
from datetime import UTC
from pathlib import Path

DEFAULT_DAGSTER_HOME = Path("data/dagster_home")
#: where kaleido looks for Chromium unless BROWSER_PATH says otherwise (charts/render.py)
CHROMIUM = Path("/usr/bin/chromium")
#: exit code of a command stopped by an expected condition (bad input, busy, missing file)
EXIT_REFUSED = 2


def shipped_dagster_yaml() -> Path:
    """The instance settings the package ships (the repo's `dagster.yaml`, packaged as
    `funnel_pipeline/dagster.yaml`): a wheel install keeps the run queue of one, run
    monitoring and the pools, with no source checkout beside it."""
    from importlib import resources

    return Path(str(resources.files("funnel_pipeline").joinpath("dagster.yaml")))


def ensure_dagster_home() -> Path:
    """Use $DAGSTER_HOME, or data/dagster_home, holding a copy of the shipped dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copy(shipped_dagster_yaml(), target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def typed_command(*args: str) -> str:
    """`funnel <args>` as it can be typed in this shell: plain `funnel` when that is what
    PATH finds, else this installation's script relative to here (`.venv/bin/funnel`)."""
    script = Path(sys.executable).absolute().parent / "funnel"
    on_path = shutil.which("funnel")
    if on_path and Path(on_path).absolute() == script:
        command = "funnel"
    elif script.exists():
        try:
            command = str(script.relative_to(Path.cwd()))
        except ValueError:
            command = str(script)
    else:
        command = f"{sys.executable} -m funnel_pipeline.cli"
    return " ".join([command, *args])


def _say(line: str = "", *, error: bool = False) -> None:
    print(line, file=sys.stderr if error else sys.stdout, flush=True)


def _table(rows: list[tuple], header: tuple | None = None, right: frozenset[int] = frozenset()
           ) -> list[str]:
    """Rows as aligned text columns two spaces apart, indented; `right`: right-aligned
    columns (numbers); a header line when `header` is given."""
    text = ([tuple(header)] if header else []) + [tuple(str(c) for c in r) for r in rows]
    if not text:
        return []
    widths = [max(len(r[i]) for r in text) for i in range(len(text[0]))]
    return ["  " + "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in text]


# --- running a job in this process, quietly -------------------------------------------

def prepare_for_run(instance) -> None:
    """Before a run of our own: fail runs whose worker died with no daemon to notice,
    and free the pool slots such runs still hold (operations/pools.py)."""
    from funnel_pipeline.operations.pools import free_slots_of_finished_runs
    from funnel_pipeline.operations.run_health import fail_lost_runs

    for run_id in fail_lost_runs(instance):
        _say(f"Run {run_id[:8]} had lost its process (killed earlier): marked failed.")
    free_slots_of_finished_runs(instance)


def execute_job(name: str, instance, *, resources: dict | None = None,
                tags: dict[str, str] | None = None):
    """Run job `name` of the Definitions in this process, recorded in `instance`, showing
    progress (operations/progress.py) instead of Dagster's event stream."""
    from funnel_pipeline.definitions import defs
    from funnel_pipeline.operations.progress import QUIET_RUN_CONFIG, RunProgress

    job = defs.resolve_job_def(name)
    run_id = str(uuid.uuid4())
    steps = len(job.graph.nodes)
    _say(f"Running the {name} job: {steps} steps (Dagster run {run_id[:8]})")
    with RunProgress(instance, run_id, job, defs.assets):
        return job.execute_in_process(instance=instance, run_id=run_id, tags=tags,
                                      resources=resources, run_config=QUIET_RUN_CONFIG,
                                      raise_on_error=False)


def run_nightly() -> tuple[bool, str]:
    """Execute the `nightly` job in this process, recorded in the Dagster instance.

    Returns (success, the cause of the failure in words: "" on success)."""
    import dagster as dg

    from funnel_pipeline.operations.run_health import worker_tags

    instance = dg.DagsterInstance.get()
    prepare_for_run(instance)
    # the worker-host tag lets run monitoring fail this run if this process is killed
    result = execute_job("nightly", instance, tags=worker_tags())
    summary = check_summary(result)
    if summary:
        _say(summary)
    return result.success, failure_causes(result)


def check_summary(result) -> str:
    """'Checks: 140 passed, 2 warnings (core/events: x), 0 failed': this run's asset checks."""
    import dagster as dg

    passed, warned, failed = 0, [], []
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        name = f"{evaluation.asset_key.to_user_string()}: {evaluation.check_name}"
        if evaluation.passed:
            passed += 1
        elif evaluation.severity == dg.AssetCheckSeverity.WARN:
            warned.append(name)
        else:
            failed.append(name)
    if not (passed or warned or failed):
        return ""

    def listed(names: list[str]) -> str:
        shown = "; ".join(names[:3]) + (f"; {len(names) - 3} more" if len(names) > 3 else "")
        return f" ({shown})" if names else ""

    return (f"Checks: {passed} passed, {len(warned)} warned{listed(warned)}, "
            f"{len(failed)} failed{listed(failed)}")


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
            _say(f"step {event.step_key} failed: {cause}", error=True)
            if cause not in causes:
                causes.append(cause)
    return "; ".join(causes)


def print_results() -> None:
    """Where the results are, and the flagged drop-out points (aggregates only), counted
    and ordered as the drop-out summary counts and orders them (publish/summary.py)."""

    from funnel_pipeline import inert, marts, vocabulary, warehouse
    from funnel_pipeline.charts.labels import Labels
    from funnel_pipeline.charts.report import latest_report
    from funnel_pipeline.publish import summary
    from funnel_pipeline.settings import Settings

    settings = Settings.from_env()
    with warehouse.open_warehouse(settings, read_only=True) as con:
        tables = con.execute("SELECT count(*) FROM information_schema.tables "
                             "WHERE table_schema = 'marts'").fetchone()[0]
        counts = summary.slice_counts(con)
        top = summary.findings(con)[:summary.TOP_N]
        labels = Labels(vocabulary.current_config(con), medium="text")
    places = [("DuckDB database", f"{settings.duckdb_path.resolve()}  ({tables} marts tables)"),
              ("Reports", str(settings.reports_dir.resolve())),
              ("Dagster home", os.environ["DAGSTER_HOME"])]
    # every chart of this run, interactive, in one offline file a browser opens directly
    report = latest_report(settings.charts_dir)
    if report is not None:
        places.append(("Charts (offline)", str(report.resolve())))
    _say()
    for line in _table(places):
        _say(line)
    total = sum(counts.values())
    _say(f"\nFlagged drop-out points: {total}: {summary.counted(counts)}.")
    if top:
        _say("The largest (people who would have passed at the reference group's rate):")
        rows = []
        for row in top:
            segment = ("all applicants" if row["source_table"] == "stage_pass_rates" else
                       marts.mart(row["source_table"]).segment_words.format(**{
                           k: inert.shorten(row[k], 30)
                           for k in ("campaign_id", "entry_route", "application_year")}))
            decided = row["passed"] + row["failed"] + row["withdrawn"]
            rows.append((labels.stage_label(row["stage"]),
                         labels.group_label(row["characteristic"], row["group_name"]),
                         inert.shorten(segment, 40), f"{row['passed']}/{decided}",
                         f"{row['pass_rate']:.0%}", f"{row['adverse_impact_ratio']:.2f}",
                         f"{round(row['shortfall'])}"))
        for line in _table(rows, ("stage", "group", "where", "passed", "rate", "ratio",
                                  "fewer"), right=frozenset({3, 4, 5, 6})):
            _say(line)
    _say(f"\nOpen the Dagster UI and the charts: {typed_command('ui')}  "
         f"(then http://127.0.0.1:3000)")


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a funnel configuration file and print the funnel it describes."""
    from funnel_pipeline.funnel_config import describe, load_config

    config = load_config(args.path)  # a ConfigError is reported by main()
    _say(describe(config))
    _say("\nThe configuration is valid.")
    return 0


def chromium_note() -> str:
    """'' when the charts can be drawn, else one line saying what to do."""
    from funnel_pipeline.charts.render import missing_browser

    missing = missing_browser()
    return (f"The charts cannot be drawn this run: {missing}. `make system-deps` installs "
            "it; BROWSER_PATH names another.") if missing else ""


def cmd_demo(args: argparse.Namespace) -> int:
    from funnel_pipeline.funnel_config import load_config
    from funnel_pipeline.settings import Settings
    from funnel_pipeline.synthetic import generate_landing

    ensure_dagster_home()
    if args.config:
        os.environ["FUNNEL_CONFIG"] = str(Path(args.config).resolve())
    settings = Settings.from_env()
    config = load_config(settings.config_path)  # a ConfigError is reported by main()
    landing = settings.landing_dir
    if not landing.exists() or not any(landing.iterdir()):
        _say(f"Writing a synthetic landing folder for {args.applicants:,} applicants ...")
        made = generate_landing(landing, applicants=args.applicants, seed=args.seed, fmt="both",
                                config=config)
        _say(f"Wrote {landing}: {made.applicants:,} applicants, {made.events:,} events")
    else:
        _say(f"Landing folder {landing} is not empty: using what is there")
    return cmd_run(args)


def cmd_run(args: argparse.Namespace) -> int:
    ensure_dagster_home()
    note = chromium_note()
    if note:
        _say(note, error=True)
    started = time.monotonic()
    ok, cause = run_nightly()
    if ok:
        _say(f"The nightly job succeeded in {time.monotonic() - started:.1f} s.")
        print_results()
        return 0
    # the cause goes last: it is what a data engineer (or an alert) reads first (issue 20)
    _say(f"Details: {typed_command('ui')}, then the run's page.", error=True)
    _say(f"nightly job FAILED after {time.monotonic() - started:.1f} s: {cause}", error=True)
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

    from funnel_pipeline import warehouse
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
        result = execute_job(
            "nightly", instance, resources={"warehouse": FunnelWarehouse.from_settings(temp)},
            tags={"funnel/rebuild": "true", **(tags or {})})
        if not result.success:
            cause = failure_causes(result)
            print(f"rebuild FAILED ({target} left as it was): {cause}", file=sys.stderr)
            return False
        with warehouse.connect(work, read_only=True, lock_wait_seconds=0) as check:
            # the new file opens, marts present
            marts = check.execute("SELECT count(*) FROM information_schema.tables "
                                  "WHERE table_schema = 'marts'").fetchone()[0]
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
    prepare_for_run(instance)
    busy = _wait_until_no_run(instance, args.wait)
    if busy:
        _say(f"run {busy[0]} is still queued or in progress after {args.wait:.0f} s; "
             "try again later (or --wait longer)", error=True)
        return EXIT_REFUSED
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
    with warehouse.connect(copy, read_only=True, lock_wait_seconds=0) as check:
        check.execute("SELECT count(*) FROM information_schema.tables").fetchone()
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
    prepared = prepare_instance(home, shipped_dagster_yaml(), timeout=args.wait)
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


# --- the UI (issue 6): webserver + daemon + chart server, started and stopped together ----

UI_STOP_TIMEOUT_S = 30.0


def _restore_default_signals() -> None:  # runs in the child, between fork and exec
    import signal

    # a shell running us in the background may have set SIGINT to "ignored", which
    # children would inherit: the webserver would then never stop (docs STACK-FACTS)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _script(name: str) -> str:
    """A console script of this installation (the venv's bin), else the one on PATH."""
    here = Path(sys.executable).absolute().parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def ui_commands(settings, host: str, port: int, chart_host: str, chart_port: int | None,
                log_level: str = "warning") -> tuple[list[str], list[list[str]], Path, int]:
    """Command lines of the chart server and of the Dagster services; the charts folder;
    its port.

    The services are the two the systemd units run (deploy/), `dagster-webserver` and
    `dagster-daemon`, not `dagster dev`: that wrapper is superseded by `dg dev` (a
    package this project does not install) and warns about it on every start, and it
    warns again when the folder it starts in holds a dagster.yaml (the repository root
    does) that is not $DAGSTER_HOME's. Both load the code location themselves."""
    from urllib.parse import urlsplit

    from funnel_pipeline.settings import QUALITY_SUBDIR

    charts_dir = settings.charts_dir.resolve()
    if chart_port is None:
        chart_port = urlsplit(settings.chart_base_url).port or 3031
    # the auditor report too, under /quality/ (a browser refuses file:// links from the UI)
    quality_dir = settings.quality_dir.resolve()
    server = [sys.executable, "-m", "funnel_pipeline.charts.server", "--dir", str(charts_dir),
              "--mount", f"{QUALITY_SUBDIR}={quality_dir}",
              "--host", chart_host, "--port", str(chart_port)]
    location = ["-m", "funnel_pipeline.definitions"]
    webserver = [_script("dagster-webserver"), *location, "--host", host, "--port", str(port),
                 "--dagster-log-level", log_level, "--code-server-log-level", log_level]
    daemon = [_script("dagster-daemon"), "run", *location, "--log-level", log_level,
              "--code-server-log-level", log_level]
    return server, [webserver, daemon], charts_dir, chart_port


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _stop_children(children: list) -> None:
    """Terminate each child, wait, then kill it; then clear what is left of its group.

    Each child leads its own process group; the webserver and the daemon have children
    of their own (code servers) that they stop when terminated. Whatever of a group
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
    """Start the Dagster webserver and daemon and the chart server; stop all on Ctrl-C /
    SIGTERM or when one of them dies."""
    import signal
    import subprocess
    from urllib.parse import urlsplit

    from funnel_pipeline.operations.instance import prepare_instance
    from funnel_pipeline.settings import Settings

    home = prepare_instance(ensure_dagster_home())  # two services open it at once
    settings = Settings.from_env()
    server_cmd, dagster_cmds, charts_dir, chart_port = ui_commands(
        settings, args.host, args.port, args.chart_host, args.chart_port,
        log_level="info" if args.verbose else "warning")
    for folder in (settings.charts_dir, settings.quality_dir):  # served: they must exist
        folder.mkdir(parents=True, exist_ok=True)
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
        for name, cmd in (("chart server", server_cmd), ("Dagster webserver", dagster_cmds[0]),
                          ("Dagster daemon", dagster_cmds[1])):
            # own process group: Ctrl-C reaches only us, and we stop each group as a whole
            child = subprocess.Popen(cmd, env=env, preexec_fn=_restore_default_signals,  # noqa: PLW1509 - no threads yet
                                     start_new_session=True)
            children.append(child)
            names[child.pid] = name
        rows = [("Dagster UI", f"http://{args.host}:{args.port}/  (ready in about 15 s)"),
                ("Chart server", f"http://{args.chart_host}:{chart_port}/  serving {charts_dir}"),
                ("Auditor report", f"http://{args.chart_host}:{chart_port}/quality/index.html"),
                ("Chart links", f"{settings.chart_base_url}  (FUNNEL_CHART_BASE_URL)"),
                ("Dagster home", str(home))]
        for line in _table(rows):
            _say(line)
        if (urlsplit(settings.chart_base_url).port or 80) != chart_port:
            _say(f"warning: charts are served on port {chart_port} but the links point at "
                 f"{settings.chart_base_url}: set FUNNEL_CHART_BASE_URL to match", error=True)
        _say("Schedules and the landing sensor run while this runs. Press Ctrl-C to stop.")
        while not stop["signal"]:
            dead = [c for c in children if c.poll() is not None]
            if dead:
                _say(f"the {names[dead[0].pid]} exited with code {dead[0].returncode}; "
                     "stopping the others", error=True)
                return 1
            time.sleep(0.3)
        _say("Stopping the Dagster UI, the daemon and the chart server ...")
        return 0
    finally:
        _stop_children(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --- the command line: every command says what it does, its defaults, what it reads ------

class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written; each option's default appended when it has
    one worth saying (not None, not False)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text
                and action.option_strings):
            text += " (default: %(default)s)"
        return text


#: DAGSTER_HOME, which every command that records or reads runs uses
_DAGSTER_HOME = ("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME),
                 ("the Dagster instance (runs, event logs, schedules); made with the "
                  "repository's dagster.yaml if missing"))
#: read by kaleido, the chart renderer (charts/render.py DEFAULT_BROWSER: a test keeps
#: the two equal without importing plotly for `--help`)
_BROWSER_PATH = ("BROWSER_PATH", str(CHROMIUM), "the Chromium the charts are drawn with")


def environment_epilog(groups: tuple[str, ...], dagster_home: bool = True,
                       names: tuple[str, ...] = (), browser: bool = False) -> str:
    """'environment:' and the variables of these settings groups (and `names`), with
    their defaults and meanings as settings.py defines them."""
    from funnel_pipeline.settings import environment_variables

    rows = [_DAGSTER_HOME] if dagster_home else []
    rows += environment_variables(*groups, names=names)
    if browser:
        rows.append(_BROWSER_PATH)
    if not rows:
        return ""
    lines = ["environment (blank or unset = the default):"]
    for name, default, meaning in rows:
        lines.append(f"  {name}" + (f"  (default: {default})" if default else ""))
        lines += textwrap.wrap(meaning, 86, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def _wrapped(*paragraphs: str) -> str:
    return "\n\n".join(textwrap.fill(p, 92) for p in paragraphs)


def build_parser() -> argparse.ArgumentParser:
    from funnel_pipeline.settings import ALERTS, PIPELINE, QUALITY, RETENTION, SCHEDULE, UI

    run_groups = (PIPELINE, QUALITY, UI)
    parser = argparse.ArgumentParser(
        prog="funnel", formatter_class=_HelpFormatter,
        description="Police recruitment funnel: where applicants from under-represented groups "
                    "drop out.\nStart with `funnel demo`. `funnel <command> --help` says what a "
                    "command does,\nits defaults and the environment variables it reads.",
        epilog="Operations (schedules, sensors, alerts, retention): docs/OPERATIONS.md.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")

    def command(name: str, summary: str, description: str, groups: tuple[str, ...] = (),
                dagster_home: bool = True, names: tuple[str, ...] = (),
                browser: bool = False) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=_wrapped(summary, description),
                              formatter_class=_HelpFormatter,
                              epilog=environment_epilog(groups, dagster_home, names, browser))

    demo = command(
        "demo", "Generate demo data (if the landing folder is empty) and run the nightly job.",
        "Writes a synthetic landing folder (applicants, events and the optional files, with "
        "the usual delivery mistakes) into FUNNEL_LANDING_DIR when that folder is empty or "
        "missing, then does what `funnel run` does. Charts need Chromium (`make demo` "
        "installs it).", run_groups,
        browser=True)
    demo.add_argument("--applicants", type=int, default=5000,
                      help="applicants in the generated data")
    demo.add_argument("--seed", type=int, default=42, help="random seed of the generated data")
    demo.add_argument("--config", default=None, metavar="FILE",
                      help="a force's funnel configuration (TOML, docs/CONFIGURATION.md); the "
                           "demo data follows it (default: $FUNNEL_CONFIG, else the built-in "
                           "funnel)")
    demo.set_defaults(func=cmd_demo)

    check = command(
        "check-config", "Validate a funnel configuration file and print the funnel it describes.",
        "Reads the TOML file (docs/CONTRACT.md section 8, docs/CONFIGURATION.md) and prints its "
        "stages and characteristics for review; exit code 2 with the file, key and problem "
        "when it is invalid. Reads no environment.", (), dagster_home=False)
    check.add_argument("path", help="the TOML file")
    check.set_defaults(func=cmd_check_config)

    run = command(
        "run", "Run the nightly job now, in this process, on FUNNEL_LANDING_DIR.",
        "Loads the landing files not loaded before, rebuilds core incrementally, validates, "
        "publishes the marts, the publication files and the charts. The run is recorded in "
        "DAGSTER_HOME (the UI shows it) and waits for any run holding the DuckDB file. "
        "Exit code 0 on success, 1 when the run failed (the cause is printed).", run_groups,
        browser=True)
    run.set_defaults(func=cmd_run)

    rebuild_p = command(
        "rebuild", "Rebuild everything from the landing folder into a new DuckDB file and swap "
        "it in on success.",
        "Runs the nightly job into a new file beside FUNNEL_DUCKDB_PATH (and the reports into "
        "a new folder); only when it succeeds is the new file put in place, atomically. A "
        "failed rebuild changes nothing. Exit code 2 when it refused or waited in vain.",
        run_groups)
    rebuild_p.add_argument("--wait", type=float, default=600, metavar="SECONDS",
                           help="how long to wait for a queued / running run to finish")
    rebuild_p.add_argument("--allow-missing", action="store_true",
                           help="rebuild even when files loaded before are gone from the landing "
                                "folder (their rows are dropped); without it the rebuild refuses "
                                "and lists them")
    rebuild_p.set_defaults(func=cmd_rebuild)

    backup_p = command(
        "backup", "Copy the DuckDB file while no run writes it.",
        "Holds a read-only connection while copying (a writer finishes first; no run can "
        "start writing mid-copy), opens the copy to prove it reads, and keeps the newest "
        "--keep copies named funnel-<UTC time>.duckdb.", (PIPELINE,), dagster_home=False)
    backup_p.add_argument("--to", default="", metavar="FOLDER",
                          help="folder for the copies (default: <folder of the database>/backups)")
    backup_p.add_argument("--keep", type=int, default=14, help="copies to keep")
    backup_p.add_argument("--wait", type=float, default=3600, metavar="SECONDS",
                          help="how long to wait for a running writer")
    backup_p.set_defaults(func=cmd_backup)

    prepare = command(
        "prepare-instance", "Create the Dagster instance's storage once, under a lock.",
        "Run before the daemon and the webserver start (systemd ExecStartPre=): on a new "
        "DAGSTER_HOME two processes creating its databases at once collide. Copies the "
        "repository's dagster.yaml in when missing.", ())
    prepare.add_argument("--wait", type=float, default=300, metavar="SECONDS",
                         help="how long to wait for another process preparing it")
    prepare.set_defaults(func=cmd_prepare_instance)

    prune = command(
        "prune-runs", "Delete finished Dagster runs and their event logs.",
        "Deletes runs that ended (success, failure, canceled) and were created more than "
        "--older-than-days ago, with their events, captured stdout/stderr and per-run event "
        "database. Queued and running runs are never touched.", ())
    prune.add_argument("--older-than-days", type=float, default=90, metavar="DAYS",
                       help="age of the runs to delete")
    prune.set_defaults(func=cmd_prune_runs)

    prune_rep = command(
        "prune-reports", "Delete old chart pictures and reports no recent materialisation links.",
        "A file in <FUNNEL_REPORTS_DIR>/charts goes when it is older than the retention age "
        "and not linked from the latest materialisations of any chart asset. Nothing is "
        "pruned while a run is queued or in progress (exit code 2).",
        (RETENTION,), names=("FUNNEL_REPORTS_DIR",))
    prune_rep.add_argument("--older-than-days", type=float, default=None, metavar="DAYS",
                           help="age before a file may go (default: FUNNEL_CHART_RETENTION_DAYS)")
    prune_rep.add_argument("--keep-last", type=int, default=None, metavar="N",
                           help="materialisations per chart asset whose files always stay "
                                "(default: FUNNEL_CHART_KEEP_MATERIALIZATIONS)")
    prune_rep.add_argument("--dry-run", action="store_true", help="only say what would go")
    prune_rep.add_argument("--wait", type=float, default=600, metavar="SECONDS",
                           help="how long to wait for a queued / running run")
    prune_rep.set_defaults(func=cmd_prune_reports)

    ui = command(
        "ui", "Start the Dagster UI, the daemon and the chart server; Ctrl-C stops them.",
        "Runs what the two systemd units run (dagster-webserver and dagster-daemon, so "
        "schedules and the landing sensor work) and the read-only server for the chart "
        "pictures the UI shows and the auditor report (under /quality/). Output is quiet: warnings and errors only (--verbose for "
        "Dagster's info lines).", (PIPELINE, QUALITY, SCHEDULE, ALERTS, UI))
    ui.add_argument("--host", default="127.0.0.1", help="Dagster UI address")
    ui.add_argument("--port", type=int, default=3000, help="Dagster UI port")
    ui.add_argument("--chart-host", default="127.0.0.1", help="chart server address")
    ui.add_argument("--chart-port", type=int, default=None,
                    help="chart server port (default: the port of FUNNEL_CHART_BASE_URL)")
    ui.add_argument("--verbose", action="store_true", help="show Dagster's info log lines")
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, run the command; an expected condition ends in one line and exit code 2."""
    from funnel_pipeline.causes import FunnelError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FunnelError, FileNotFoundError, TimeoutError) as exc:
        _say(f"funnel {args.command}: {exc}", error=True)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        _say(f"\nfunnel {args.command}: stopped (Ctrl-C)", error=True)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
