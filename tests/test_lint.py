"""ruff over the package, the tests and every notebook; the work/ copy and build/ are excluded."""

from __future__ import annotations

import subprocess
import sys


def test_ruff_is_clean(root):
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=root,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
