"""The runner, on a miniature course made in a temporary folder (each notebook starts a kernel)."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from course_lib import calibrate, results, run
from course_lib import notebooks as nb_tools

SLOWDOWN = 2.0  # the factor the faked calibration reports: this machine runs at half the reference's speed


@pytest.fixture(autouse=True)
def fake_calibration(monkeypatch):
    """The calibration's workload stays out of these tests: it reports ``SLOWDOWN`` at once."""
    score = calibrate.load_reference().score / SLOWDOWN
    calls = []

    def measured():
        calls.append(1)
        return calibrate.Calibration(score, score, score, 0.1)

    monkeypatch.setattr(run.calibrate, "run_measurement", measured)
    return calls


def make_notebook(path, *sources, metadata=None):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}")] + [nbformat.v4.new_code_cell(s) for s in sources]
    notebook.metadata.update(metadata or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def course(tmp_path, monkeypatch):
    (tmp_path / "course_lib").mkdir()
    make_notebook(tmp_path / "notebooks" / "00_start_here.ipynb", "print('hello')")
    make_notebook(tmp_path / "notebooks" / "02_mlp.ipynb",
                  "from course_lib import results\nresults.record('02_mlp', test_accuracy=0.95)",
                  "import os\nprint(os.getcwd())", metadata={"widgets": {"junk": 1}})
    make_notebook(tmp_path / "notebooks" / "solutions" / "02_mlp_solutions.ipynb", "print(1 + 1)")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_runs_chapters_in_order_into_build_and_reports(course, capsys):
    before = (course / "notebooks" / "02_mlp.ipynb").read_bytes()
    assert run.main([]) == 0
    printed = capsys.readouterr().out
    assert printed.index("[1/2] 00_start_here") < printed.index("[2/2] 02_mlp")
    assert "test_accuracy" in printed and ">= 0.89" in printed and "wall_seconds" in printed
    executed = nbformat.read(course / "build" / "notebooks" / "02_mlp.ipynb", as_version=4)
    assert executed.cells[2].outputs[0].text.strip() == str(course / "build" / "notebooks")
    assert [c.execution_count for c in executed.cells[1:]] == [1, 2]
    assert "widgets" not in executed.metadata
    assert (course / "notebooks" / "02_mlp.ipynb").read_bytes() == before  # committed copy untouched
    summary = json.loads((course / "build" / "results.json").read_text())
    assert summary["02_mlp"]["metrics"]["test_accuracy"] == 0.95
    assert summary["02_mlp"]["targets"]["test_accuracy"] == {"target": ">= 0.89", "met": True}
    assert not (course / "build" / "notebooks" / "solutions").exists()


def test_selects_chapters_and_solutions_by_name(course, capsys):
    assert run.main(["--chapters", "02_solutions", "00"]) == 0
    printed = capsys.readouterr().out
    assert "[1/2] 00_start_here" in printed and "[2/2] 02_mlp_solutions" in printed
    assert (course / "build" / "notebooks" / "solutions" / "02_mlp_solutions.ipynb").exists()


def test_solutions_flag_adds_the_chosen_chapters_solutions(course, capsys):
    assert run.main(["--chapters", "mlp", "--solutions"]) == 0
    printed = capsys.readouterr().out
    assert "[1/2] 02_mlp ..." in printed and "[2/2] 02_mlp_solutions" in printed


def test_unknown_chapter_is_a_clear_error(course, capsys):
    assert run.main(["--chapters", "07_diffusion"]) == 2
    error = capsys.readouterr().err
    assert "'07_diffusion' matches no chapter" in error and "00_start_here, 02_mlp" in error


def test_failing_cell_stops_with_chapter_cell_and_traceback(course, capsys):
    path = make_notebook(course / "notebooks" / "01_broken.ipynb", "x = 1", "print('before')\n1 / 0", "print('never')")
    before = path.read_bytes()
    assert run.main(["--refresh"]) == 1
    captured = capsys.readouterr()
    assert "01_broken: code cell 2 of 3 failed" in captured.err and "ZeroDivisionError" in captured.err
    assert "[3/3]" not in captured.out  # the run stopped at the failure
    assert path.read_bytes() == before  # refresh never half-writes a notebook
    assert not list((course / "notebooks").glob(".*tmp"))
    assert sorted(p.name for p in (course / "notebooks").glob("*.ipynb")) == ["00_start_here.ipynb", "01_broken.ipynb",
                                                                            "02_mlp.ipynb"]
    assert (course / "build" / "notebooks" / "01_broken.failed.ipynb").exists()  # for inspection
    assert run.main(["--list"]) == 0 and "failed" not in capsys.readouterr().out


def test_refresh_writes_outputs_back_in_place(course):
    assert run.main(["--chapters", "00", "--refresh"]) == 0
    refreshed = nbformat.read(course / "notebooks" / "00_start_here.ipynb", as_version=4)
    assert refreshed.cells[1].outputs[0].text == "hello\n" and refreshed.cells[1].execution_count == 1
    assert refreshed == nb_tools.normalise(refreshed)


def test_list_and_outside_repository(course, tmp_path_factory, monkeypatch, capsys):
    assert run.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == ["00_start_here", "02_mlp", "02_mlp_solutions"]
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    assert run.main([]) == 2
    assert "not inside the course repository" in capsys.readouterr().err


# ---------------------------------------------------------------------------- faults (issue 19)

@pytest.mark.parametrize("build_dir", [".", "notebooks", "notebooks/build", "notebooks/../notebooks/solutions"])
def test_a_build_folder_onto_the_notebooks_or_the_root_is_refused(course, capsys, build_dir):
    before = {p: p.read_bytes() for p in (course / "notebooks").rglob("*.ipynb")}
    assert run.main(["--chapters", "00", "--build-dir", build_dir]) == 2
    captured = capsys.readouterr()
    assert "--build-dir" in captured.err and "committed notebooks" in captured.err and "[1/" not in captured.out
    assert {p: p.read_bytes() for p in (course / "notebooks").rglob("*.ipynb")} == before
    assert not (course / "results").exists() and not (course / "notebooks" / "results").exists()


def test_a_renamed_copy_is_keyed_by_its_own_notebook_and_flagged(course, capsys):
    make_notebook(course / "notebooks" / "07_mlp_copy.ipynb",
                  "from course_lib import results\nresults.record('02_mlp', test_accuracy=0.5)")
    assert run.main(["--chapters", "02", "07"]) == 0
    printed = capsys.readouterr().out
    assert json.loads((course / "build" / "results" / "02_mlp.json").read_text())["test_accuracy"] == 0.95
    assert json.loads((course / "build" / "results" / "07_mlp_copy.json").read_text())["test_accuracy"] == 0.5
    flagged = [line for line in printed.splitlines() if line.startswith("07_mlp_copy") and "record()" in line]
    assert flagged and "'02_mlp'" in flagged[0]
    assert "All targets met" not in printed
    summary = json.loads((course / "build" / "results.json").read_text())
    assert summary["02_mlp"]["metrics"]["test_accuracy"] == 0.95
    assert summary["07_mlp_copy"]["notes"]


def stale_notebook(path, sources):
    """A notebook whose code cells carry committed outputs and execution counts."""
    make_notebook(path, *sources)
    notebook = nbformat.read(path, as_version=4)
    for count, cell in enumerate(notebook.cells[1:], 1):
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"committed output {count}\n")]
    nbformat.write(notebook, path)
    return path


def test_the_failed_copy_clears_the_cells_that_did_not_run(course, capsys):
    stale_notebook(course / "notebooks" / "01_broken.ipynb", ["print('ran')", "1 / 0", "print('never')", "x = 2"])
    assert run.main(["--chapters", "01"]) == 1
    error = capsys.readouterr().err
    assert "01_broken: code cell 2 of 4 failed" in error and "\x1b[" not in error  # no colour codes in a log
    failed = nbformat.read(course / "build" / "notebooks" / "01_broken.failed.ipynb", as_version=4)
    cells = failed.cells[1:]
    assert cells[0].outputs[0].text == "ran\n" and cells[0].execution_count == 1
    assert cells[1].outputs[0].output_type == "error"
    assert [(c.execution_count, c.outputs) for c in cells[2:]] == [(None, []), (None, [])]


def test_a_timeout_names_the_cell_and_clears_the_rest(course, capsys):
    stale_notebook(course / "notebooks" / "01_slow.ipynb", ["x = 1", "import time\ntime.sleep(30)", "print('never')"])
    assert run.main(["--chapters", "01", "--cell-timeout", "2"]) == 1
    error = capsys.readouterr().err
    assert "01_slow: code cell 2 of 3 timed out after 2 s" in error and "cell None" not in error
    assert "--cell-timeout" in error
    failed = nbformat.read(course / "build" / "notebooks" / "01_slow.failed.ipynb", as_version=4)
    assert [(c.execution_count, c.outputs) for c in failed.cells[3:]] == [(None, [])]


@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_cell_timeout_that_is_not_positive_is_refused(course, capsys, value):
    with pytest.raises(SystemExit):
        run.main(["--chapters", "00", "--cell-timeout", value])
    error = capsys.readouterr().err
    assert "--cell-timeout" in error and "positive" in error
    with pytest.raises(ValueError, match="cell_timeout"):
        run.run(["00"], False, False, None, int(value), course)


def test_a_build_folder_that_is_a_file_is_refused_before_running(course, capsys):
    (course / "elsewhere").write_text("a file")
    assert run.main(["--chapters", "00", "--build-dir", "elsewhere"]) == 2
    captured = capsys.readouterr()
    assert "elsewhere" in captured.err and "not a folder" in captured.err and "[1/" not in captured.out


def test_a_write_error_names_the_path(course, capsys, monkeypatch):
    def disk_full(notebook, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nb_tools, "write_atomically", disk_full)
    assert run.main(["--chapters", "00"]) == 2
    error = capsys.readouterr().err
    assert "No space left on device" in error and str(course / "build" / "notebooks" / "00_start_here.ipynb") in error
    assert "Traceback" not in error


@pytest.mark.parametrize("content, reason", [("not json {", "not valid JSON"),
                                             ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, '
                                              '"cells": [{"cell_type": "code"}]}', "does not follow the notebook format")])
def test_a_broken_notebook_is_named_before_anything_runs(course, capsys, content, reason):
    (course / "notebooks" / "01_bad.ipynb").write_text(content)
    assert run.main([]) == 2
    captured = capsys.readouterr()
    assert "01_bad.ipynb" in captured.err and reason in captured.err and "git checkout" in captured.err
    assert "[1/" not in captured.out and "Traceback" not in captured.err


@pytest.mark.parametrize("text, message", [('["02_mlp"\n', "not valid TOML"), ("", "holds no targets")])
def test_targets_are_validated_before_anything_runs(course, capsys, monkeypatch, text, message):
    path = course / "targets.toml"
    path.write_text(text)
    monkeypatch.setattr(run.results, "TARGETS_FILE", path)
    assert run.main(["--chapters", "00"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and str(path) in captured.err and "[1/" not in captured.out


def test_a_partial_run_keeps_the_other_chapters_in_results_json(course, capsys):
    assert run.main(["--chapters", "02"]) == 0
    assert run.main(["--chapters", "00"]) == 0
    summary = json.loads((course / "build" / "results.json").read_text())
    assert set(summary) == {"00_start_here", "02_mlp"}
    assert summary["00_start_here"]["this_run"] is True and summary["02_mlp"]["this_run"] is False
    assert summary["02_mlp"]["metrics"]["test_accuracy"] == 0.95


def test_relative_data_folder_resolves_from_where_the_runner_was_started(course, monkeypatch):
    (course / "mydata").mkdir()
    (course / "mydata" / "co2_mm_mlo.csv").write_text("")
    monkeypatch.setenv("COURSE_DATA_DIR", "mydata")
    make_notebook(course / "notebooks" / "01_data.ipynb", "from course_lib import data\nprint(data.data_dir())")
    assert run.main(["--chapters", "01"]) == 0
    executed = nbformat.read(course / "build" / "notebooks" / "01_data.ipynb", as_version=4)
    assert executed.cells[1].outputs[0].text.strip() == str(course / "mydata")


def test_stale_temporaries_from_a_killed_write_back_are_removed(course, capsys):
    import os
    import time

    stale = course / "notebooks" / ".00_start_here.x1y2z3.ipynb.tmp"
    stale.write_text('{"cells": [')
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert run.main(["--chapters", "00"]) == 0
    assert not stale.exists() and "stale temporary" in capsys.readouterr().out


def test_ctrl_c_says_what_was_saved_and_that_nothing_committed_changed(course):
    import os
    import signal
    import subprocess
    import sys
    import time

    marker = course / "started"
    path = stale_notebook(course / "notebooks" / "01_long.ipynb",
                          [f"open({str(marker)!r}, 'w').close()", "import time\ntime.sleep(60)", "print('never')"])
    before = path.read_bytes()
    process = subprocess.Popen([sys.executable, "-m", "course_lib.run", "--chapters", "01", "--refresh", "--no-calibrate"],
                               cwd=course,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        time.sleep(1)
        os.kill(process.pid, signal.SIGINT)
        out, error = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, error
    assert "Interrupted" in error and "01_long" in error and "code cell 2 of 3" in error
    assert "nothing committed changed" in error.lower() and "01_long.failed.ipynb" in error
    assert "Traceback" not in error and "Task exception" not in error and len(error.splitlines()) <= 6
    assert path.read_bytes() == before


def test_a_build_folder_that_is_not_writable_is_refused_before_running(course, capsys, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    import tempfile

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # as root, chmod would not stop the write
    assert run.main(["--chapters", "00"]) == 2
    captured = capsys.readouterr()
    assert "is not writable (Permission denied)" in captured.err and str(course / "build") in captured.err
    assert "[1/" not in captured.out


def test_run_from_the_notebooks_folder_builds_beside_it(course, monkeypatch):
    monkeypatch.chdir(course / "notebooks")
    assert run.main(["--chapters", "00"]) == 0
    assert (course / "build" / "notebooks" / "00_start_here.ipynb").exists()
    assert not (course / "notebooks" / "build").exists()


# ---------------------------------------------------------------------------- time targets (issue 20)

def test_time_targets_are_judged_against_the_calibrated_factor(course, capsys, fake_calibration):
    make_notebook(course / "notebooks" / "03_cnn.ipynb",
                  "from course_lib import results\nresults.record('03_cnn', test_accuracy=0.93, training_seconds=250)")
    assert run.main(["--chapters", "03"]) == 0
    printed = capsys.readouterr().out
    assert fake_calibration and "runs the course's workloads at 0.50x the reference" in printed
    assert printed.index("0.50x the reference") < printed.index("[1/1] 03_cnn")
    header = next(line for line in printed.splitlines() if line.startswith("chapter"))
    assert header.split() == ["chapter", "metric", "value", "target", "scaled", "target", "factor", "met"]
    scaled = f"{180 * SLOWDOWN * (1 + calibrate.load_reference().tolerance):.0f}"  # 414 at the committed tolerance 0.15
    training = next(line for line in printed.splitlines() if line.startswith("03_cnn") and "training_seconds" in line)
    assert training.split() == ["03_cnn", "training_seconds", "250", "<=", "180", "<=", scaled, "x", "2.00", "yes"]
    assert "All targets met" in printed
    summary = json.loads((course / "build" / "results.json").read_text())["03_cnn"]
    assert summary["calibration_factor"] == SLOWDOWN
    assert summary["targets"]["training_seconds"] == {"target": "<= 180", "scaled": f"<= {scaled}", "met": True}
    executed = nbformat.read(course / "build" / "notebooks" / "03_cnn.ipynb", as_version=4)
    assert f"<= {scaled}" in executed.cells[1].outputs[0].text  # record() in the kernel saw the same factor


def test_no_calibrate_judges_the_bounds_as_written(course, capsys, fake_calibration):
    make_notebook(course / "notebooks" / "03_cnn.ipynb",
                  "from course_lib import results\nresults.record('03_cnn', test_accuracy=0.93, training_seconds=250)")
    assert run.main(["--chapters", "03", "--no-calibrate"]) == 0
    printed = capsys.readouterr().out
    assert not fake_calibration and "Not calibrated" in printed
    header = next(line for line in printed.splitlines() if line.startswith("chapter"))
    assert header.split() == ["chapter", "metric", "value", "target", "met"]
    training = next(line for line in printed.splitlines() if line.startswith("03_cnn") and "training_seconds" in line)
    assert training.split() == ["03_cnn", "training_seconds", "250", "<=", "180", "NO"]
    assert json.loads((course / "build" / "results.json").read_text())["03_cnn"]["calibration_factor"] is None
    assert results.FACTOR_VARIABLE not in os.environ


def test_a_missing_reference_stops_the_run_before_any_chapter(course, capsys, monkeypatch, fake_calibration):
    missing = course / "calibration_reference.toml"
    monkeypatch.setattr(run.calibrate, "REFERENCE_FILE", missing)
    assert run.main(["--chapters", "00"]) == 2
    captured = capsys.readouterr()
    assert str(missing) in captured.err and "--no-calibrate" in captured.err and "[1/" not in captured.out
    assert not fake_calibration


def test_a_failed_calibration_is_a_clear_error(course, capsys, monkeypatch):
    def broken():
        raise RuntimeError("The calibration failed (exit status 1):\nImportError: no tensorflow\n"
                           "Run with --no-calibrate to judge against the absolute bounds.")

    monkeypatch.setattr(run.calibrate, "run_measurement", broken)
    assert run.main(["--chapters", "00"]) == 2
    captured = capsys.readouterr()
    assert "calibration failed" in captured.err and "--no-calibrate" in captured.err and "[1/" not in captured.out
