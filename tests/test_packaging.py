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
    assert not any(n.startswith("assets/") or n.startswith("sql/") for n in names)
    assert any(n.startswith("funnel_pipeline/expectations/") for n in names)
