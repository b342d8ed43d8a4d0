from __future__ import annotations

import json

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
