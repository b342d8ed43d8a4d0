from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def data_copy(tmp_path, monkeypatch) -> Path:
    """A private copy of data/ that a test may damage, selected with COURSE_DATA_DIR."""
    import shutil

    target = tmp_path / "data"
    shutil.copytree(ROOT / "data", target)
    for path in target.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    monkeypatch.setenv("COURSE_DATA_DIR", str(target))
    return target
