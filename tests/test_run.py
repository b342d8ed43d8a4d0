"""The runner, on a miniature course made in a temporary folder (each notebook starts a kernel)."""

from __future__ import annotations

import json

import nbformat
import pytest

from course_lib import notebooks as nb_tools
from course_lib import run


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
