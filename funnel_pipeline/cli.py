"""`funnel` command line: demo, run, rebuild and ui entry points for people, not Dagster.

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


def run_nightly() -> bool:
    """Execute the `nightly` job in this process, recorded in the Dagster instance."""
    import dagster as dg

    from funnel_pipeline.definitions import defs

    instance = dg.DagsterInstance.get()
    result = defs.get_job_def("nightly").execute_in_process(instance=instance, raise_on_error=False)
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                print(f"step failed: {event.step_key}: {event.event_specific_data.error.message.strip()[:500]}",
                      file=sys.stderr)
    return result.success


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


def cmd_demo(args: argparse.Namespace) -> int:
    from funnel_pipeline.settings import Settings
    from funnel_pipeline.synthetic import generate_landing

    ensure_dagster_home()
    settings = Settings.from_env()
    landing = settings.landing_dir
    if not landing.exists() or not any(landing.iterdir()):
        summary = generate_landing(landing, applicants=args.applicants, seed=args.seed, fmt="both")
        print(f"Wrote synthetic demo landing folder {landing} ({summary.events} events, "
              f"{summary.applicants} applicants)")
    else:
        print(f"Landing folder {landing} is not empty: using what is there")
    return cmd_run(args)


def cmd_run(args: argparse.Namespace) -> int:
    ensure_dagster_home()
    started = time.monotonic()
    ok = run_nightly()
    print(f"nightly job {'succeeded' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
    if ok:
        print_results()
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="funnel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="generate demo data (if the landing folder is empty) and run")
    demo.add_argument("--applicants", type=int, default=5000)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=cmd_demo)
    run = sub.add_parser("run", help="run the nightly job now on $FUNNEL_LANDING_DIR")
    run.set_defaults(func=cmd_run)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
