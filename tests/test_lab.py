from __future__ import annotations

import nbformat

from course_lib import lab


def test_working_copy_is_made_once_and_never_overwritten(tmp_path, monkeypatch, capsys):
    (tmp_path / "course_lib").mkdir()
    source = tmp_path / "notebooks"
    (source / "solutions").mkdir(parents=True)
    for path in (source / "01_a.ipynb", source / "solutions" / "01_a_solutions.ipynb"):
        nbformat.write(nbformat.v4.new_notebook(), path)
    monkeypatch.chdir(tmp_path)
    assert lab.main(["--prepare"]) == 0
    assert "2 new notebook(s)" in capsys.readouterr().out
    mine = tmp_path / "work" / "01_a.ipynb"
    mine.write_text("my edits")
    nbformat.write(nbformat.v4.new_notebook(), source / "02_b.ipynb")  # arrives with a git pull
    work_dir, copied = lab.prepare_working_copy(tmp_path)
    assert copied == [work_dir / "02_b.ipynb"]
    assert mine.read_text() == "my edits"
    assert (work_dir / "solutions" / "01_a_solutions.ipynb").exists()


def test_outside_repository(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert lab.main(["--prepare"]) == 2
    assert "not inside the course repository" in capsys.readouterr().err


def test_work_that_is_a_file_is_a_clear_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "course_lib").mkdir()
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "notebooks" / "01_a.ipynb")
    (tmp_path / "work").write_text("my notes")
    monkeypatch.chdir(tmp_path)
    assert lab.main(["--prepare"]) == 2
    error = capsys.readouterr().err
    assert "is a file, not a folder" in error and "Traceback" not in error
    assert (tmp_path / "work").read_text() == "my notes"


def test_only_the_course_notebooks_are_copied(tmp_path, monkeypatch):
    """Executed copies and failed copies under notebooks/ (a build folder made from there, say)
    are not chapters: they stay out of work/."""
    (tmp_path / "course_lib").mkdir()
    source = tmp_path / "notebooks"
    for name in ("01_a.ipynb", "solutions/01_a_solutions.ipynb", "build/notebooks/01_a.ipynb",
                 "build/notebooks/01_a.failed.ipynb", "01_a.failed.ipynb"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(), source / name)
    work_dir, copied = lab.prepare_working_copy(tmp_path)
    assert sorted(p.relative_to(work_dir).as_posix() for p in copied) == ["01_a.ipynb", "solutions/01_a_solutions.ipynb"]
