"""The installed wheel carries assets/, sql/ and expectations/ under the package namespace."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT


@pytest.mark.slow
def test_wheel_maps_folders_under_the_package(tmp_path: Path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(tmp_path), str(REPO_ROOT)], check=True, cwd=tmp_path,
                   capture_output=True)
    (wheel,) = tmp_path.glob("funnel_pipeline-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "funnel_pipeline/assets/marts.py" in names
    assert "funnel_pipeline/sql/core/events.sql" in names
    assert "funnel_pipeline/sql/marts/stage_pass_rates.sql" in names
    assert not any(n.startswith(("assets/", "sql/")) for n in names)
    assert any(n.startswith("funnel_pipeline/expectations/") for n in names)
    # the instance settings travel with the package (issue 14 item 7): byte for byte the
    # repo's dagster.yaml, so a wheel install keeps the run queue of one and run monitoring
    shipped = zipfile.ZipFile(wheel).read("funnel_pipeline/dagster.yaml")
    assert shipped == (REPO_ROOT / "dagster.yaml").read_bytes()


def test_the_cli_copies_the_shipped_instance_settings(tmp_path: Path, monkeypatch) -> None:
    """A fresh DAGSTER_HOME gets the shipped dagster.yaml (not a bare fallback), found
    through the package, not through a source checkout's path."""
    from funnel_pipeline import cli

    assert cli.shipped_dagster_yaml().read_bytes() == (REPO_ROOT / "dagster.yaml").read_bytes()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    home = cli.ensure_dagster_home()
    copied = (home / "dagster.yaml").read_text(encoding="utf-8")
    assert copied == (REPO_ROOT / "dagster.yaml").read_text(encoding="utf-8")
    assert "max_concurrent_runs: 1" in copied and "run_monitoring" in copied


def test_every_subpackage_is_declared():
    """A subpackage missing from pyproject's explicit list would silently vanish from wheels."""
    import tomllib

    declared = set(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        "funnel_pipeline." + p.parent.relative_to(REPO_ROOT / "funnel_pipeline").as_posix().replace("/", ".")
        for p in (REPO_ROOT / "funnel_pipeline").rglob("__init__.py")
        if p.parent != REPO_ROOT / "funnel_pipeline"
    }
    assert on_disk <= declared, on_disk - declared
