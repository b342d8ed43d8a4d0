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
