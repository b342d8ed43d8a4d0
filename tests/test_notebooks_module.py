from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_lib import notebooks as nb_tools

PATHS = [Path(p) for p in ("notebooks/00_start_here.ipynb", "notebooks/02_mlp.ipynb", "notebooks/03_cnn.ipynb",
                           "notebooks/solutions/02_mlp_solutions.ipynb")]


@pytest.mark.parametrize("name, expected", [("02_mlp", "02_mlp"), ("02", "02_mlp"), ("mlp", "02_mlp"),
                                            ("03_cnn.ipynb", "03_cnn"), ("02_solutions", "02_mlp_solutions"),
                                            ("02_mlp_solutions", "02_mlp_solutions")])
def test_select_by_stem_number_or_topic(name, expected):
    assert [p.stem for p in nb_tools.select(PATHS, [name])] == [expected]


def test_select_keeps_course_order_and_drops_repeats():
    assert [p.stem for p in nb_tools.select(PATHS, ["cnn", "00", "03"])] == ["00_start_here", "03_cnn"]


def test_select_unknown_name_lists_known_chapters():
    with pytest.raises(ValueError, match=r"'rnn' matches no chapter. Known chapters: 00_start_here, 02_mlp"):
        nb_tools.select(PATHS, ["rnn"])


def test_find_root(root, tmp_path):
    assert nb_tools.find_root(root / "notebooks" / "solutions") == root
    with pytest.raises(FileNotFoundError, match="not inside the course repository"):
        nb_tools.find_root(tmp_path)


def test_normalise_strips_volatile_metadata():
    notebook = nbformat.v4.new_notebook()
    notebook.metadata.update({"widgets": {}, "language_info": {"name": "python", "version": "3.11.7"}})
    cell = nbformat.v4.new_code_cell("1", metadata={"tags": ["x"], "execution": {"iopub.status.busy": "now"}})
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/plain": "1"}, metadata={"isolated": True})]
    notebook.cells = [cell]
    clean = nb_tools.normalise(notebook)
    assert clean.metadata == {"kernelspec": nb_tools.KERNELSPEC, "language_info": {"name": "python"}}
    assert clean.cells[0].metadata == {"tags": ["x"]} and clean.cells[0].outputs[0].metadata == {}


def test_write_atomically_never_half_writes(tmp_path, monkeypatch):
    path = tmp_path / "a.ipynb"
    nb_tools.write_atomically(nbformat.v4.new_notebook(), path)
    before = path.read_bytes()

    def crash_halfway(notebook, stream):
        stream.write('{"cells": [')
        raise RuntimeError("disk full")

    monkeypatch.setattr(nbformat, "write", crash_halfway)
    with pytest.raises(RuntimeError, match="disk full"):
        nb_tools.write_atomically(nbformat.v4.new_notebook(), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["a.ipynb"]


def test_write_atomically_syncs_before_renaming(tmp_path, monkeypatch):
    import os

    events = []
    original_replace = os.replace
    monkeypatch.setattr(nb_tools.os, "fsync", lambda fd: events.append("fsync"))
    monkeypatch.setattr(nb_tools.os, "replace", lambda a, b: (events.append("replace"), original_replace(a, b)))
    nb_tools.write_atomically(nbformat.v4.new_notebook(), tmp_path / "a.ipynb")
    assert events[:2] == ["fsync", "replace"]


def test_temporary_files_are_ignored_by_git(root):
    import subprocess

    for name in ("notebooks/.02_mlp.k3j2_x.ipynb.tmp", "notebooks/solutions/.02_mlp_solutions.a.ipynb.tmp",
                 "build/results/.02_mlp.json.x.tmp"):
        result = subprocess.run(["git", "check-ignore", "-q", "--no-index", name], cwd=root)
        assert result.returncode == 0, f"{name} is not ignored by .gitignore"


def test_stale_temporaries_are_cleaned_and_fresh_ones_kept(tmp_path):
    import os
    import time

    (tmp_path / "solutions").mkdir()
    stale = tmp_path / "solutions" / ".02_mlp_solutions.abc123.ipynb.tmp"
    fresh = tmp_path / ".03_cnn.def456.ipynb.tmp"
    keep = tmp_path / "02_mlp.ipynb"
    for path in (stale, fresh, keep):
        path.write_text("{")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    os.utime(keep, (time.time() - 3600, time.time() - 3600))
    assert nb_tools.remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and fresh.exists() and keep.exists()
