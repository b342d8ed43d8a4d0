from __future__ import annotations

import json

import numpy as np
import pytest

from course_lib import results

TARGETS = {"02_mlp": {"test_accuracy": {"min": 0.89}, "wall_seconds": {"max": 180}},
           "04_lstm": {"lstm_mae": {"below": "drift_mae"}}}


def test_evaluate_against_targets():
    rows = results.evaluate("02_mlp", {"test_accuracy": 0.9, "extra": 1.0}, TARGETS)
    assert [(r.metric, r.met) for r in rows] == [("test_accuracy", True), ("extra", None), ("wall_seconds", False)]
    assert rows[0].target == ">= 0.89"
    assert results.evaluate("02_mlp", {"test_accuracy": 0.88}, TARGETS, include_missing=False)[0].met is False


def test_relative_targets():
    better = results.evaluate("04_lstm", {"lstm_mae": 0.5, "drift_mae": 0.6}, TARGETS)
    assert better[0].met is True and better[0].target == "< drift_mae (0.6)"
    assert results.evaluate("04_lstm", {"lstm_mae": 0.7, "drift_mae": 0.6}, TARGETS)[0].met is False
    assert results.evaluate("04_lstm", {"lstm_mae": 0.7}, TARGETS)[0].met is False


def test_targets_file_is_valid_and_covers_every_chapter(root):
    targets = results.load_targets()
    chapters = {p.stem for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert chapters <= set(targets), f"chapters without targets: {chapters - set(targets)}"
    assert all("wall_seconds" in metrics for metrics in targets.values())


def test_bad_targets_file(tmp_path):
    path = tmp_path / "targets.toml"
    path.write_text('["01_x"]\nwall_seconds = { atmost = 3 }\n')
    with pytest.raises(ValueError, match="must be one of"):
        results.load_targets(path)


def test_record_prints_and_hands_over(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(results.RESULTS_DIR_VARIABLE, str(tmp_path))
    results.record("02_mlp", test_accuracy=0.9012)
    results.record("02_mlp", training_seconds=41.5)
    printed = capsys.readouterr().out
    assert "test_accuracy" in printed and "0.9012" in printed and ">= 0.89" in printed and "yes" in printed
    assert json.loads((tmp_path / "02_mlp.json").read_text()) == {"test_accuracy": 0.9012, "training_seconds": 41.5}
    assert not list(tmp_path.glob("*.tmp"))


def test_record_without_runner_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(results.RESULTS_DIR_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    results.record("01_perceptron_math", final_loss=0.1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("chapter", ["", "02_mlp.ipynb", "notebooks/02_mlp", " 02_mlp"])
def test_record_rejects_bad_chapter_names(chapter):
    with pytest.raises(ValueError, match="file stem"):
        results.record(chapter, accuracy=1.0)


def test_record_rejects_non_numbers_and_nothing():
    with pytest.raises(ValueError, match="must be a number"):
        results.record("02_mlp", test_accuracy="high")
    with pytest.raises(ValueError, match="at least one figure"):
        results.record("02_mlp")


def test_format_rows_aligns_columns():
    table = results.format_rows(results.evaluate("02_mlp", {"test_accuracy": 0.8}, TARGETS), show_chapter=True)
    lines = table.splitlines()
    assert lines[0].split() == ["chapter", "metric", "value", "target", "met"]
    assert "NO" in lines[2] and "missing" in lines[3]


def test_write_json_atomically_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "results.json"
    results.write_json_atomically(path, {"a": 1})
    with pytest.raises(TypeError):
        results.write_json_atomically(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


# ---------------------------------------------------------------------------- faults (issue 19)

def strict_json(path):
    """Parse JSON as a browser or another language would: NaN and Infinity are not JSON."""
    def refuse(constant):
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_record_writes_nan_and_inf_as_null_and_flags_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(results.RESULTS_DIR_VARIABLE, str(tmp_path))
    results.record("02_mlp", test_accuracy=float("nan"), test_loss=float("inf"), epochs=3)
    stored = strict_json(tmp_path / "02_mlp.json")
    assert stored["test_accuracy"] is None and stored["test_loss"] is None and stored["epochs"] == 3
    printed = capsys.readouterr().out
    assert "not a finite number" in printed and "nan" in printed and "inf" in printed
    metrics, notes = results.read_recorded(tmp_path / "02_mlp.json")
    assert np.isnan(metrics["test_accuracy"]) and metrics["test_loss"] == np.inf and metrics["epochs"] == 3
    rows = {row.metric: row for row in results.evaluate("02_mlp", metrics, TARGETS, include_missing=False)}
    assert rows["test_accuracy"].met is False and "not a finite number" in rows["test_accuracy"].note
    assert rows["epochs"].note == ""


def test_record_refuses_a_chapter_name_with_no_notebook(root, monkeypatch):
    monkeypatch.chdir(root / "notebooks")
    with pytest.raises(ValueError, match=r"'02_mpl'.*no notebook.*02_mlp"):
        results.record("02_mpl", test_accuracy=0.9)


def test_record_under_the_runner_keys_by_the_notebook_that_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(results.RESULTS_DIR_VARIABLE, str(tmp_path))
    monkeypatch.setenv(results.NOTEBOOK_VARIABLE, "07_mlp_copy")
    results.record("02_mlp", test_accuracy=0.5)
    assert not (tmp_path / "02_mlp.json").exists()
    metrics, notes = results.read_recorded(tmp_path / "07_mlp_copy.json")
    assert metrics == {"test_accuracy": 0.5}
    assert notes == ["record() was called with '02_mlp' in notebook 07_mlp_copy; its figures are kept under "
                     "07_mlp_copy. Change the call to record('07_mlp_copy', ...)."]
    assert "07_mlp_copy" in capsys.readouterr().out


def test_a_table_without_targets_has_no_target_column():
    table = results.format_rows(results.evaluate("01_other", {"epochs": 10, "final_loss": 0.25}, TARGETS))
    assert table.splitlines()[0].split() == ["metric", "value"]
    with_targets = results.format_rows(results.evaluate("02_mlp", {"test_accuracy": 0.9, "epochs": 3.0}, TARGETS,
                                                        include_missing=False))
    assert with_targets.splitlines()[0].split() == ["metric", "value", "target", "met"]


@pytest.mark.parametrize("text, message", [
    ('["02_mlp"\nwall_seconds = 3', r"targets\.toml is not valid TOML"),
    ("", r"targets\.toml holds no targets"),
    ('["02_mlp"]\ntest_accuracy = { min = "high" }\n', "needs a number"),
    ('["04_lstm"]\nlstm_mae = { below = 0.5 }\n', "needs the name of another metric"),
    ('wall_seconds = 3\n', r"chapter sections such as \[\"02_mlp\"\]"),
    # the time options (issue 20)
    ('["02_mlp"]\ntest_accuracy = { min = 0.9, time = true }\n', "goes with max only"),
    ('["02_mlp"]\ntraining_seconds = { max = 60, time = "yes" }\n', "goes with max only"),
    ('["02_mlp"]\ntraining_seconds = { max = 60, fast = true }\n', "must be one of"),
    ('["02_mlp"]\ntraining_seconds = { time = true }\n', "must be one of"),
    ('["05_x"]\nloss = { max = 1.9, at_seconds = 0 }\n', "at_seconds must be a positive"),
    ('["05_x"]\nloss = { max = 1.9, at_seconds = 60, time = true }\n', "goes with max only"),
])
def test_bad_targets_files_are_named(tmp_path, text, message):
    path = tmp_path / "targets.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as caught:
        results.load_targets(path)
    assert str(path) in str(caught.value)


def test_write_json_atomically_syncs_before_renaming_and_refuses_nan(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(results.os, "fsync", lambda fd: synced.append(fd))
    results.write_json_atomically(tmp_path / "a.json", {"a": 1})
    assert synced
    with pytest.raises(ValueError):
        results.write_json_atomically(tmp_path / "a.json", {"a": float("nan")})
    assert strict_json(tmp_path / "a.json") == {"a": 1}
