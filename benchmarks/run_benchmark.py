"""Benchmark: the pipeline against plain DuckDB SQL (the floor), on the same data, in one run.

    python benchmarks/run_benchmark.py --applicants 3500000 --format parquet   # ~10M events
    python benchmarks/run_benchmark.py --smoke                                 # ~50k events
    python benchmarks/run_benchmark.py --config benchmarks/funnel.ten_stages.toml  # a long funnel

With `--config` (a CONTRACT.md section 8 file) the data is generated for that funnel and
the pipeline runs with FUNNEL_CONFIG set to it; step 2 is skipped (floor.sql is written for
the built-in funnel), so such a run times the pipeline alone.

One run does, in order (see benchmarks/README.md):

1. landing folder: generated once per (format, applicants, seed) under benchmarks/data/
   by `python -m funnel_pipeline.synthetic --clean` (DuckDB, set-based) and reused;
   each run works on a fresh folder of hard links to those files;
2. FLOOR: benchmarks/floor.sql (one DuckDB script, landing files → stage_pass_rates;
   Fisher's p via scipy on the aggregated table) in a subprocess;
3. FULL: `dagster asset materialize -m funnel_pipeline.definitions --select '*'` from an
   empty DuckDB file and a fresh DAGSTER_HOME (the repo's dagster.yaml), as a subprocess;
   the floor's table must equal marts.stage_pass_rates (1e-9) or the run fails;
4. INCREMENTAL: a new events file of `--new-events` events (default 10,000; new event ids
   superseding existing applications' results) lands, and the same command runs again;
   the floor over the grown folder must again equal the pipeline's table;
5. for each phase: wall time, peak resident memory of the whole process tree (psutil,
   polled every 0.1 s: the sum of RSS over the process and all its descendants), and
   for the Dagster runs the time per step from the run's event log, grouped as ingest /
   core / checks / marts / charts / publish;
6. writes benchmarks/results/<UTC timestamp>_<format>_<applicants>.json and
   benchmarks/results/latest.md (Parquet; latest_csv.md for CSV, latest_smoke.md for
   --smoke) (or --results-dir).

Timings are wall-clock on whatever else the machine is doing: compare the ratios within
one run (floor and pipeline share the conditions), not absolute seconds across runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Self

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
FLOOR_SQL = BENCH_DIR / "floor.sql"
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

#: events per applicant in the synthetic data (10,049,433 events for 3.5M applicants)
EVENTS_PER_APPLICANT = 2.87
SMOKE_APPLICANTS = 17_500  # ≈ 50,000 events
TARGETS = {"full_over_floor": 1.5, "incremental_over_full": 0.2, "peak_rss_bytes": 3 * 1024**3}
#: the step categories of the issue (asset key's first part → category)
CATEGORY_OF_LAYER = {"raw": "ingest", "core": "core", "quality": "checks", "marts": "marts",
                     "charts": "charts", "publish": "publish"}
COMPARED_COLUMNS = (
    "characteristic", "group_name", "stage", "stage_order", "entered", "passed", "failed",
    "withdrawn", "pending", "pass_rate", "pass_rate_ci_low", "pass_rate_ci_high",
    "cumulative_pass_rate", "reference_group", "adverse_impact_ratio", "fisher_p_value", "flagged",
)
TOLERANCE = 1e-9


# --- process-tree measurement --------------------------------------------------------------


class TreeMonitor:
    """Peak RSS of a process and all its descendants, polled on a thread."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        import psutil

        self._psutil = psutil
        self._root = psutil.Process(pid)
        self._interval = interval
        self.peak_tree = 0
        self.peak_root = 0
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        psutil = self._psutil
        while not self._stop.is_set():
            try:
                procs = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                break
            total = 0
            for proc in procs:
                try:
                    rss = proc.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                if proc.pid == self._root.pid:
                    self.peak_root = max(self.peak_root, rss)
            self.peak_tree = max(self.peak_tree, total)
            self.max_processes = max(self.max_processes, len(procs))
            self._stop.wait(self._interval)


def run_measured(cmd: list[str], env: dict[str, str], log_path: Path, cwd: Path = REPO_ROOT) -> dict:
    """Run a command to completion; wall time, exit code and peak tree RSS."""
    started = time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        with TreeMonitor(proc.pid) as monitor:
            code = proc.wait()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "exit_code": code,
            "peak_rss_bytes": monitor.peak_tree, "peak_rss_main_process_bytes": monitor.peak_root,
            "max_processes": monitor.max_processes, "log": str(log_path)}


# --- landing data --------------------------------------------------------------------------


def ensure_landing(data_dir: Path, fmt: str, applicants: int, seed: int,
                   memory_limit: str, config: Path | None = None) -> tuple[Path, dict]:
    """The cached landing folder for (format, size, seed[, funnel configuration]),
    generated if missing; a configured funnel's folder is named after its file."""
    folder = data_dir / (f"{fmt}_a{applicants}_s{seed}" + (f"_{config.stem}" if config else ""))
    landing, marker = folder / "landing", folder / "generated.json"
    if marker.is_file() and landing.is_dir():
        info = json.loads(marker.read_text())
        info["reused"] = True
        return landing, info
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "funnel_pipeline.synthetic", "--target", str(landing),
         "--applicants", str(applicants), "--seed", str(seed), "--format", fmt, "--clean",
         "--memory-limit", memory_limit, *(["--config", str(config)] if config else [])],
        cwd=REPO_ROOT, env=_child_env({}), check=True, capture_output=True, text=True)
    summary = json.loads(out.stdout[out.stdout.index("{"):])
    info = {"seconds": round(time.perf_counter() - started, 3),
            "events": summary["events"], "applications": summary.get("applications"),
            "rows_by_file": summary.get("rows_by_file", {}), "planted": summary.get("planted", {}),
            "config": summary.get("config")}
    marker.write_text(json.dumps(info, indent=2))
    info["reused"] = False
    return landing, info


def link_landing(source: Path, target: Path) -> None:
    """A fresh landing folder of hard links (regular files, no copy) to the cached files."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in sorted(source.iterdir()):
        if path.is_file():
            try:
                os.link(path, target / path.name)
            except OSError:
                shutil.copy2(path, target / path.name)


def write_nightly_file(landing: Path, fmt: str, n_events: int, seed: int) -> tuple[str, int]:
    """`n_events` new events (new ids) re-reporting existing applications' stages as
    passed on the night after the data cut-off: every one supersedes a stored result."""
    import duckdb

    name = f"events_9999_nightly.{fmt}"
    con = duckdb.connect()
    try:
        if fmt == "parquet":
            source = f"read_parquet('{_sql_path(landing)}/events*.parquet')"
            options = "(FORMAT parquet)"
        else:
            source = (f"read_csv('{_sql_path(landing)}/events*.csv', header = true, "
                      "all_varchar = true, auto_detect = false, delim = ',', quote = '\"', "
                      "escape = '\"', columns = {'event_id': 'VARCHAR', 'applicant_id': 'VARCHAR', "
                      "'campaign_id': 'VARCHAR', 'stage': 'VARCHAR', 'outcome': 'VARCHAR', "
                      "'occurred_at': 'VARCHAR'})")
            options = "(FORMAT csv, HEADER true)"
        con.execute(
            f"COPY (SELECT printf('N%010d', row_number() OVER (ORDER BY h)) AS event_id, "
            f"       applicant_id, campaign_id, stage, 'passed' AS outcome, "
            f"       '2025-07-01T09:00:00Z' AS occurred_at "
            f"      FROM (SELECT *, hash(event_id, {int(seed)}) AS h FROM {source} "
            f"            ORDER BY h LIMIT {int(n_events)}) ORDER BY h) "
            f"TO '{_sql_path(landing / name)}' {options}")
        count = con.execute(
            f"SELECT count(*) FROM {'read_parquet' if fmt == 'parquet' else 'read_csv'}"
            f"('{_sql_path(landing / name)}')").fetchone()[0]
    finally:
        con.close()
    return name, count


def _sql_path(path: Path) -> str:
    text = str(path.resolve())
    if "'" in text:
        raise ValueError(f"benchmark paths must not contain a quote: {text}")
    return text


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


# --- the floor -----------------------------------------------------------------------------


def floor_vocabulary() -> list[tuple[str, str, str, int | None]]:
    """The built-in funnel as the floor's one lookup table (domain, spelling, canonical,
    stage order): floor.sql is a hand-written script of the default funnel, kept apart
    from the pipeline's config.* tables on purpose, so it checks them independently."""
    from funnel_pipeline.funnel_config import NOT_STATED, load_config

    config = load_config(None)
    rows: list[tuple[str, str, str, int | None]] = []
    for stage in config.stages:
        rows += [("stage", s.lower(), stage.name, stage.order) for s in (stage.name, *stage.aliases)]
    for outcome, aliases in config.outcomes.items():
        rows += [("outcome", s, outcome, None) for s in (outcome, *aliases)]
    for position, c in enumerate(config.characteristics, start=1):
        rows.append(("reference_group", c.name, c.reference_group, position))
        if c.kind == "delivered":
            rows += [(c.name, s, NOT_STATED, None) for s in ("", *config.not_stated)]
            rows += [(c.name, s, g, None) for s, g in c.spellings.items()]
            rows += [("ethnicity_prefix", p, g, None) for p, g in c.prefixes.items()]
        if c.kind == "derived":
            rows += [(c.name, b, g, None) for b, g in {**c.mapping, NOT_STATED: NOT_STATED}.items()]
    return rows


def floor_child(args: argparse.Namespace) -> int:
    """Subprocess entry: run floor.sql over a landing folder, write the table, print timings."""
    import duckdb
    from scipy.stats import fisher_exact

    from funnel_pipeline import marts
    from funnel_pipeline.warehouse import split_statements

    landing = Path(args.landing)
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{args.memory_limit}'")
    con.execute(f"SET temp_directory = '{_sql_path(Path(args.temp_dir))}'")
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    con.execute("CREATE TEMP TABLE vocabulary (domain VARCHAR, spelling VARCHAR, canonical VARCHAR, "
                "stage_order INTEGER)")
    con.executemany("INSERT INTO vocabulary VALUES (?, ?, ?, ?)", floor_vocabulary())
    started = time.perf_counter()
    base = _sql_path(landing)
    if args.fmt == "parquet":
        con.execute(f"CREATE TEMP VIEW landing_events AS SELECT event_id, applicant_id, campaign_id, "
                    f"stage, outcome, occurred_at FROM read_parquet('{base}/events*.parquet')")
        con.execute(f"CREATE TEMP VIEW landing_applicants AS SELECT applicant_id, sex, ethnicity, "
                    f"disability, sexual_orientation, parse_filename(filename) AS file_name, "
                    f"file_row_number AS row_number FROM read_parquet('{base}/applicants*.parquet', "
                    f"filename = true, file_row_number = true)")
    else:
        csv = ("header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
               "columns = {cols}")
        def columns(path: Path) -> str:
            """The file's own header as read_csv columns: CONTRACT.md matches column names
            case-insensitively after trimming, in any order, with or without a BOM."""
            header = path.open(encoding="utf-8-sig").readline().strip().split(",")
            return "{" + ", ".join(f"'{c.strip().lower()}': 'VARCHAR'" for c in header) + "}"

        # one read per file, columns by name (WITH ORDINALITY numbers the rows of one scan)
        events = [f"SELECT event_id, applicant_id, campaign_id, stage, outcome, occurred_at "
                  f"FROM read_csv('{_sql_path(path)}', {csv.format(cols=columns(path))})"
                  for path in sorted(landing.glob("events*.csv"))]
        con.execute("CREATE TEMP VIEW landing_events AS " + " UNION ALL ".join(events))
        parts = [f"SELECT applicant_id, sex, ethnicity, disability, sexual_orientation, "
                 f"'{path.name}' AS file_name, ordinality AS row_number "
                 f"FROM read_csv('{_sql_path(path)}', {csv.format(cols=columns(path))}) WITH ORDINALITY"
                 for path in sorted(landing.glob("applicants*.csv"))]
        con.execute("CREATE TEMP VIEW landing_applicants AS " + " UNION ALL ".join(parts))
    params = {"z": marts.WILSON_Z}
    for statement in split_statements(FLOOR_SQL.read_text()):
        used = {k: v for k, v in params.items() if f"${k}" in statement}
        con.execute(statement, used) if used else con.execute(statement)
    sql_seconds = time.perf_counter() - started
    rows = con.execute("SELECT * FROM floor_stage_pass_rates").fetchall()
    names = [d[0] for d in con.description]
    table = []
    for row in rows:
        r = dict(zip(names, row))
        p = None
        if r["adverse_impact_ratio"] is not None:
            p = float(fisher_exact([[r["fisher_a"], r["fisher_b"]], [r["fisher_c"], r["fisher_d"]]],
                                   alternative="two-sided").pvalue)
        r["fisher_p_value"] = p
        r["flagged"] = bool(r["adverse_impact_ratio"] is not None and p is not None
                            and r["adverse_impact_ratio"] < marts.ADVERSE_IMPACT_THRESHOLD
                            and p < marts.SIGNIFICANCE_LEVEL)
        table.append({c: r[c] for c in COMPARED_COLUMNS})
    seconds = time.perf_counter() - started
    Path(args.out).write_text(json.dumps(table, default=str))
    print(json.dumps({"floor_seconds": round(seconds, 3), "sql_seconds": round(sql_seconds, 3),
                      "rows": len(table)}))
    return 0


def run_floor(landing: Path, fmt: str, work: Path, tag: str, opts: argparse.Namespace) -> dict:
    out = work / f"floor_{tag}.json"
    temp = work / "floor_spill"
    temp.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "_floor", "--landing", str(landing),
           "--fmt", fmt, "--out", str(out), "--memory-limit", opts.memory_limit,
           "--temp-dir", str(temp), "--threads", str(opts.threads or 0)]
    log = work / f"floor_{tag}.log"
    measured = run_measured(cmd, _child_env({}), log)
    if measured["exit_code"] != 0:
        raise RuntimeError(f"floor failed (exit {measured['exit_code']}); see {log}:\n"
                           + log.read_text()[-3000:])
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("{")]
    child = json.loads(lines[-1])
    shutil.rmtree(temp, ignore_errors=True)
    return {**measured, "process_seconds": measured["seconds"], "seconds": child["floor_seconds"],
            "sql_seconds": child["sql_seconds"], "rows": child["rows"], "table": str(out)}


# --- the pipeline through Dagster ----------------------------------------------------------


def pipeline_env(dagster_home: Path, landing: Path, work: Path, opts: argparse.Namespace) -> dict:
    temp = work / "duckdb_spill"
    temp.mkdir(parents=True, exist_ok=True)
    extra = {
        "DAGSTER_HOME": str(dagster_home),
        "FUNNEL_LANDING_DIR": str(landing),
        "FUNNEL_DUCKDB_PATH": str(work / "funnel.duckdb"),
        "FUNNEL_REPORTS_DIR": str(work / "reports"),
        "FUNNEL_DUCKDB_MEMORY_LIMIT": opts.memory_limit,
        "FUNNEL_DUCKDB_TEMP_DIR": str(temp),
        # a failed step should fail the benchmark at once, not retry with back-off
        "FUNNEL_STEP_RETRIES": "0",
    }
    if opts.threads:
        extra["FUNNEL_DUCKDB_THREADS"] = str(opts.threads)
    if opts.config:
        extra["FUNNEL_CONFIG"] = str(opts.config)
    return _child_env(extra)


#: what the run executes: the dagster CLI (through a wrapper that only times the checks)
DAGSTER_ARGS = ["asset", "materialize", "-m", "funnel_pipeline.definitions", "--select", "*"]


def dagster_command() -> list[str]:
    return [sys.executable, str(BENCH_DIR / "dagster_timed.py"), *DAGSTER_ARGS]


def run_pipeline(env: dict, work: Path, tag: str) -> dict:
    log = work / f"pipeline_{tag}.log"
    check_times = work / f"check_times_{tag}.jsonl"
    check_times.unlink(missing_ok=True)
    measured = run_measured(dagster_command(), {**env, "FUNNEL_BENCH_CHECK_TIMES": str(check_times)},
                            log)
    if measured["exit_code"] != 0:
        raise RuntimeError(f"pipeline ({tag}) failed (exit {measured['exit_code']}); see {log}:\n"
                           + log.read_text()[-4000:])
    calls = ([json.loads(line) for line in check_times.read_text().splitlines() if line.strip()]
             if check_times.exists() else [])
    measured.update(step_profile(Path(env["DAGSTER_HOME"]), measured["seconds"], calls))
    return measured


def step_profile(dagster_home: Path, wall_seconds: float, check_calls: list[dict]) -> dict:
    """Seconds per step and per category from the newest run's event log."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg
    from dagster import DagsterEventType as T

    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        starts: dict[str, float] = {}
        steps: dict[str, dict[str, Any]] = {}
        run_start = run_end = None
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            kind = event.event_type
            if kind == T.RUN_START:
                run_start = entry.timestamp
            elif kind in (T.RUN_SUCCESS, T.RUN_FAILURE):
                run_end = entry.timestamp
            key = entry.step_key
            if not key:
                continue
            info = steps.setdefault(key, {"seconds": 0.0, "assets": set(), "checks": 0})
            if kind == T.STEP_START:
                starts[key] = entry.timestamp
            elif kind in (T.STEP_SUCCESS, T.STEP_FAILURE) and key in starts:
                info["seconds"] += entry.timestamp - starts.pop(key)
            elif kind == T.ASSET_MATERIALIZATION and event.asset_key is not None:
                info["assets"].add(event.asset_key.path[0])
            elif kind == T.ASSET_CHECK_EVALUATION:
                info["checks"] += 1
    by_category: dict[str, float] = {}
    per_step = {}
    for key, info in steps.items():
        layers = sorted(info["assets"])
        if layers:
            category = CATEGORY_OF_LAYER.get(layers[0], layers[0])
        elif info["checks"]:
            category = "checks"
        else:
            category = "other"
        per_step[key] = {"seconds": round(info["seconds"], 3), "category": category,
                         "asset_layers": layers, "check_evaluations": info["checks"]}
        by_category[category] = by_category.get(category, 0.0) + info["seconds"]
    # the checks run inside the asset steps: move their time out of the step's category
    for call in check_calls:
        layer = call["assets"][0].split("/")[0] if call["assets"] else ""
        category = CATEGORY_OF_LAYER.get(layer, layer)
        if category in by_category and category != "checks":
            by_category[category] -= call["seconds"]
            by_category["checks"] = by_category.get("checks", 0.0) + call["seconds"]
    in_run = (run_end - run_start) if run_start and run_end else None
    steps_total = sum(by_category.values())
    by_category["dagster_process_overhead"] = max(0.0, wall_seconds - steps_total)
    shares = {k: round(v / wall_seconds, 4) for k, v in by_category.items()} if wall_seconds else {}
    return {"run_id": run.run_id, "run_seconds": round(in_run, 3) if in_run else None,
            "steps": per_step,
            "check_calls": [{"assets": c["assets"], "seconds": round(c["seconds"], 3)}
                            for c in check_calls],
            "seconds_by_category": {k: round(v, 3) for k, v in by_category.items()},
            "share_by_category": shares}


# --- comparison ----------------------------------------------------------------------------


def pipeline_table(duckdb_path: Path) -> list[dict]:
    import duckdb

    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        cur = con.execute(f"SELECT {', '.join(COMPARED_COLUMNS)} FROM marts.stage_pass_rates")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


def compare_tables(floor: list[dict], pipeline: list[dict]) -> dict:
    """Equal row keys, equal text/integers/flags, numbers within 1e-9."""
    def key(r: dict) -> tuple:
        return (r["characteristic"], r["group_name"], int(r["stage_order"]))

    f = {key(r): r for r in floor}
    p = {key(r): r for r in pipeline}
    mismatches: list[str] = []
    only_floor = sorted(set(f) - set(p))
    only_pipeline = sorted(set(p) - set(f))
    if only_floor:
        mismatches.append(f"{len(only_floor)} rows only in the floor, e.g. {only_floor[:3]}")
    if only_pipeline:
        mismatches.append(f"{len(only_pipeline)} rows only in the pipeline, e.g. {only_pipeline[:3]}")
    max_diff = 0.0
    for k in sorted(set(f) & set(p)):
        for column in COMPARED_COLUMNS:
            a, b = f[k][column], p[k][column]
            if isinstance(a, float) or isinstance(b, float):
                if a is None or b is None:
                    ok = a is None and b is None
                else:
                    diff = abs(float(a) - float(b))
                    max_diff = max(max_diff, diff)
                    ok = diff <= TOLERANCE
            elif column == "stage_order" or column in ("entered", "passed", "failed", "withdrawn",
                                                         "pending"):
                ok = a is not None and b is not None and int(a) == int(b)
            else:
                ok = a == b
            if not ok:
                mismatches.append(f"{k} {column}: floor {a!r} pipeline {b!r}")
    return {"equal": not mismatches, "rows_floor": len(floor), "rows_pipeline": len(pipeline),
            "max_abs_difference": max_diff, "tolerance": TOLERANCE, "mismatches": mismatches[:20]}


# --- report --------------------------------------------------------------------------------


def _gb(n: int | None) -> str:
    return "–" if n is None else f"{n / 1024**3:.2f} GB"


def markdown(result: dict) -> str:
    r, t = result["ratios"], TARGETS
    floor, full, inc = result["floor"], result["full"], result.get("incremental")
    ok = lambda value, limit: "✅" if value is not None and value <= limit else "❌"
    lines = [
        f"# Benchmark: {result['events']:,} events, {result['format']}",
        "",
        (f"Run {result['started_at']} on {result['machine']['cpus']} CPUs "
        f"(load average at start {result['machine']['load_average_start']}); DuckDB memory_limit "
        f"{result['settings']['duckdb_memory_limit']}. Wall-clock seconds on a shared machine: "
        "read the ratios (same run, same data), not the absolute times."),
        "",
        "| run | seconds | peak RSS (process tree) | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    if floor:
        lines += [
            (f"| floor (benchmarks/floor.sql, plain DuckDB) | {floor['seconds']:.1f} | "
             f"{_gb(floor['peak_rss_bytes'])} | 1.00 | |"),
            (f"| full pipeline (Dagster, empty DB) | {full['seconds']:.1f} | "
             f"{_gb(full['peak_rss_bytes'])} | {r['full_over_floor']:.2f} × floor | "
             f"≤ {t['full_over_floor']} {ok(r['full_over_floor'], t['full_over_floor'])} |")]
    else:  # a configured funnel: floor.sql covers the built-in funnel only
        lines.append(f"| full pipeline (Dagster, empty DB; funnel {result.get('config')}) | "
                     f"{full['seconds']:.1f} | {_gb(full['peak_rss_bytes'])} | – | no floor |")
    if inc:
        lines.append(
            f"| incremental (+{result['new_events']:,} events) | {inc['seconds']:.1f} | "
            f"{_gb(inc['peak_rss_bytes'])} | {r['incremental_over_full']:.2f} × full | "
            f"≤ {t['incremental_over_full']} {ok(r['incremental_over_full'], t['incremental_over_full'])} |")
    peak = result["peak_rss_bytes"]
    lines += [
        "",
        f"Peak memory of any run: {_gb(peak)} (target ≤ 3 GB {ok(peak, t['peak_rss_bytes'])}). "
        + ((f"Floor table equals marts.stage_pass_rates: {result['equal_full']['equal']} "
            f"(max |difference| {result['equal_full']['max_abs_difference']:.1e})"
            + (f"; after the incremental run: {result['equal_incremental']['equal']}"
               if result.get("equal_incremental") else "") + ".")
           if result.get("equal_full") else "No floor for a configured funnel."),
        "",
        "Time per category (share of the run's wall time):",
        "",
        "| category | full s | full share | incremental s | incremental share |",
        "|---|---:|---:|---:|---:|",
    ]
    cats = list(full["seconds_by_category"])
    for c in (inc or {}).get("seconds_by_category", {}):
        if c not in cats:
            cats.append(c)
    for c in cats:
        fs, fh = full["seconds_by_category"].get(c), full["share_by_category"].get(c)
        i_s = inc["seconds_by_category"].get(c) if inc else None
        i_h = inc["share_by_category"].get(c) if inc else None
        cell = lambda v, pct=False: "–" if v is None else (f"{v:.0%}" if pct else f"{v:.1f}")
        lines.append(f"| {c} | {cell(fs)} | {cell(fh, True)} | {cell(i_s)} | {cell(i_h, True)} |")
    lines += ["", "Steps (seconds): "
              + ", ".join(f"{k} {v['seconds']:.1f}" for k, v in full["steps"].items()) + " (full)"]
    if inc:
        lines.append("; ".join([", ".join(f"{k} {v['seconds']:.1f}" for k, v in inc["steps"].items())
                                + " (incremental)"]))
    lines += ["", f"Reproduce: `{result['command']}`", ""]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["_floor"]:
        p = argparse.ArgumentParser(prog="run_benchmark.py _floor")
        p.add_argument("--landing", required=True)
        p.add_argument("--fmt", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--memory-limit", default="2GB")
        p.add_argument("--temp-dir", required=True)
        p.add_argument("--threads", type=int, default=0)
        ns = p.parse_args(argv[1:])
        ns.command = "_floor"
        return ns
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--applicants", type=int, default=3_500_000,
                   help="synthetic applicants (3,500,000 ≈ 10M events)")
    p.add_argument("--format", dest="fmt", choices=("parquet", "csv"), default="parquet")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--smoke", action="store_true",
                   help=f"{SMOKE_APPLICANTS:,} applicants (≈50,000 events), 1,000 new events")
    p.add_argument("--new-events", type=int, default=None,
                   help="events in the nightly file (default 10,000; smoke 1,000)")
    p.add_argument("--memory-limit", default="2GB",
                   help="DuckDB memory_limit for the floor and the pipeline (default 2GB)")
    p.add_argument("--threads", type=int, default=0, help="DuckDB threads (default: all cores)")
    p.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data")
    p.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    p.add_argument("--skip-incremental", action="store_true")
    p.add_argument("--no-verify-incremental", action="store_true",
                   help="skip the second floor run that checks the table after the incremental run")
    p.add_argument("--config", type=Path, default=None,
                   help="a funnel configuration file (CONTRACT.md section 8, e.g. "
                        "benchmarks/funnel.ten_stages.toml) for the generator and the pipeline; "
                        "the floor (built-in funnel only) is then skipped")
    p.add_argument("--clean-up", action="store_true",
                   help="delete the run folder (DB, logs) afterwards (default: keep it until "
                        "the next run of the same size)")
    ns = p.parse_args(argv)
    ns.command = "run"
    ns.config = ns.config.resolve() if ns.config else None
    if ns.smoke:
        ns.applicants = SMOKE_APPLICANTS
        ns.new_events = ns.new_events or 1_000
    ns.new_events = ns.new_events or 10_000
    return ns


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if opts.command == "_floor":
        return floor_child(opts)
    import psutil

    started_at = dt.datetime.now(dt.UTC)
    fmt, n = opts.fmt, opts.applicants
    print(f"[benchmark] {fmt}, {n:,} applicants, seed {opts.seed}", flush=True)
    landing_cache, generated = ensure_landing(opts.data_dir, fmt, n, opts.seed, opts.memory_limit,
                                              opts.config)
    print(f"[benchmark] landing {'reused' if generated['reused'] else 'generated'}: "
          f"{generated['events']:,} events", flush=True)

    work = landing_cache.parent / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    landing = work / "landing"
    link_landing(landing_cache, landing)
    dagster_home = work / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = pipeline_env(dagster_home, landing, work, opts)
    load_start = os.getloadavg()

    # floor.sql is written for the built-in funnel (five stages, its columns): with another
    # funnel there is no floor to time or compare against
    floor = equal_full = None
    if not opts.config:
        print("[benchmark] floor …", flush=True)
        floor = run_floor(landing, fmt, work, "full", opts)
        print(f"[benchmark] floor {floor['seconds']:.1f} s", flush=True)
    print("[benchmark] full pipeline …", flush=True)
    full = run_pipeline(env, work, "full")
    print(f"[benchmark] full {full['seconds']:.1f} s", flush=True)
    if floor:
        equal_full = compare_tables(json.loads(Path(floor["table"]).read_text()),
                                    pipeline_table(work / "funnel.duckdb"))
        print(f"[benchmark] floor == pipeline: {equal_full['equal']}", flush=True)

    incremental = equal_inc = None
    nightly = None
    if not opts.skip_incremental:
        name, count = write_nightly_file(landing, fmt, opts.new_events, opts.seed)
        nightly = {"file": name, "events": count}
        print(f"[benchmark] incremental (+{count:,} events) …", flush=True)
        incremental = run_pipeline(env, work, "incremental")
        print(f"[benchmark] incremental {incremental['seconds']:.1f} s", flush=True)
        if floor and not opts.no_verify_incremental:
            floor_after = run_floor(landing, fmt, work, "incremental", opts)
            equal_inc = compare_tables(json.loads(Path(floor_after["table"]).read_text()),
                                       pipeline_table(work / "funnel.duckdb"))
            equal_inc["floor_seconds"] = floor_after["seconds"]
            print(f"[benchmark] floor == pipeline after the incremental run: {equal_inc['equal']}",
                  flush=True)

    import dagster
    import duckdb

    peaks = [*([floor["peak_rss_bytes"]] if floor else []), full["peak_rss_bytes"],
             *([incremental["peak_rss_bytes"]] if incremental else [])]
    result = {
        "started_at": started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "python benchmarks/run_benchmark.py "
                   + (" ".join(sys.argv[1:]) if argv is None else " ".join(argv)),
        "format": fmt, "applicants": n, "seed": opts.seed,
        "config": str(opts.config) if opts.config else None,
        "events": generated["events"], "new_events": opts.new_events,
        "landing": {"folder": str(landing_cache), **generated},
        "nightly_file": nightly,
        "machine": {"cpus": os.cpu_count(), "memory_bytes": psutil.virtual_memory().total,
                    "load_average_start": [round(x, 2) for x in load_start],
                    "load_average_end": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version(), "platform": platform.platform()},
        "versions": {"dagster": dagster.__version__, "duckdb": duckdb.__version__},
        "settings": {"duckdb_memory_limit": opts.memory_limit, "duckdb_threads": opts.threads or "all"},
        "floor": floor, "full": full, "incremental": incremental,
        "equal_full": equal_full, "equal_incremental": equal_inc,
        "ratios": {
            "full_over_floor": round(full["seconds"] / floor["seconds"], 3) if floor else None,
            "incremental_over_full": (round(incremental["seconds"] / full["seconds"], 3)
                                      if incremental else None),
        },
        "peak_rss_bytes": max(peaks),
        "targets": TARGETS,
    }
    result["targets_met"] = {
        "full_over_floor": (result["ratios"]["full_over_floor"] is not None
                            and result["ratios"]["full_over_floor"] <= TARGETS["full_over_floor"]),
        "incremental_over_full": (result["ratios"]["incremental_over_full"] is not None
                                  and result["ratios"]["incremental_over_full"]
                                  <= TARGETS["incremental_over_full"]),
        "peak_rss": result["peak_rss_bytes"] <= TARGETS["peak_rss_bytes"],
    }
    opts.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    tail = f"_{opts.config.stem}" if opts.config else ""
    out = opts.results_dir / f"{stamp}_{fmt}_{n}{tail}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    latest = ("latest_smoke.md" if opts.smoke and not tail
              else f"latest{tail}.md" if fmt == "parquet" else f"latest_{fmt}{tail}.md")
    (opts.results_dir / latest).write_text(markdown(result))
    print(markdown(result))
    print(f"[benchmark] wrote {out}", flush=True)
    if opts.clean_up:
        shutil.rmtree(work, ignore_errors=True)
    ok = (equal_full is None or equal_full["equal"]) and (equal_inc is None or equal_inc["equal"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
