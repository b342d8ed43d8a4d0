"""Chapter 08 starts worker processes; none may outlive it.

The test takes the chapter's own worker script and ``run_cluster`` function from the notebook (so
it checks what the learner runs, not a copy), drives them in a separate Python process the way the
notebook's kernel does, through a planned crash, a timed-out wait and a normal run, and then looks
for any process still running the worker script: during the driver's life, after each scenario,
and after the driver has exited.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "notebooks" / "08_distributed_training.ipynb"

pytestmark = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc (Linux)")


def chapter_cell(start: str) -> str:
    """The source of the chapter's one code cell that starts with ``start``."""
    sources = [cell.source for cell in nbformat.read(CHAPTER, as_version=4).cells
               if cell.cell_type == "code" and cell.source.startswith(start)]
    assert len(sources) == 1, f"expected one code cell starting with {start!r} in {CHAPTER.name}, found {len(sources)}"
    return sources[0]


def processes_running(marker: str) -> list[str]:
    """Command lines of live processes (not zombies) that mention ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in command and state != "Z":
            found.append(f"{entry.name}: {command.strip()}")
    return found


DRIVER = """
import json, sys
from pathlib import Path
import numpy as np
from course_lib.processes import ProcessFailed, ProcessGroup, free_ports

workdir = Path(sys.argv[1])
worker_script, data_file = workdir / "train_worker.py", workdir / "data.npz"
rng = np.random.default_rng(0)
np.savez(data_file, x=rng.normal(size=(256, 784)), y=rng.integers(0, 10, size=256))
sys.path.insert(0, str(Path(sys.argv[2]).parent))
from test_processes_chapter08 import processes_running

{run_cluster}

def arguments(name, steps):
    return ["--data", str(data_file), "--steps", str(steps), "--checkpoint-every", "5",
            "--checkpoint-dir", str(workdir / name), "--output", str(workdir / (name + ".npz"))]

report = {{}}
report["crash"] = run_cluster("crash", arguments("crash", 12), crash={{1: 7}})
report["after_crash"] = processes_running(str(worker_script))
try:
    run_cluster("timeout", arguments("timeout", 10_000), timeout=3)
    report["timeout"] = "no error"
except ProcessFailed as failure:
    report["timeout"] = str(failure).splitlines()[0]
report["after_timeout"] = processes_running(str(worker_script))
report["normal"] = run_cluster("normal", arguments("normal", 4))
print(json.dumps(report))
"""


def test_chapter_workers_never_outlive_it(tmp_path):
    script = chapter_cell("%%writefile {worker_script}").split("\n", 1)[1]
    (tmp_path / "train_worker.py").write_text(script)
    driver = DRIVER.format(run_cluster=chapter_cell("def run_cluster("))
    result = subprocess.run([sys.executable, "-c", driver, str(tmp_path), __file__], capture_output=True, text=True,
                            timeout=600, cwd=tmp_path)
    marker = str(tmp_path / "train_worker.py")
    stray = processes_running(marker)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["crash"]["worker1"] == -9, report  # the planned SIGKILL happened
    assert report["after_crash"] == [], report
    assert "was still running after 3 s" in report["timeout"], report  # the wait timed out, with the reason
    assert report["after_timeout"] == [], report
    assert report["normal"] == {"worker0": 0, "worker1": 0}, report
    assert stray == [], f"worker processes outlived the chapter's code: {stray}"


def test_stray_process_finder_sees_a_live_process(tmp_path):
    """The finder above must be able to fail: it sees a process that runs a marked script."""
    marked = tmp_path / "train_worker.py"
    marked.write_text("import time\ntime.sleep(60)\n")
    process = subprocess.Popen([sys.executable, str(marked)])
    try:
        assert any(str(process.pid) + ":" in line for line in processes_running(str(marked)))
    finally:
        process.kill()
        process.wait()
    assert processes_running(str(marked)) == []

