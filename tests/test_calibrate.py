"""The calibration's arithmetic, its reference file, and time targets judged against it (issue 20).

The workload itself runs once, in one short smoke test; everything else uses given numbers.
"""

from __future__ import annotations

import math

import pytest

from course_lib import calibrate, results

TARGETS = {"02_mlp": {"test_accuracy": {"min": 0.89}, "training_seconds": {"max": 60, "time": True},
                      "wall_seconds": {"max": 180, "time": True}, "seconds_per_epoch": {"max": 10}},
           "05_transformer": {"val_loss_at_60_seconds": {"max": 1.88, "at_seconds": 60},
                              "seconds_to_1_88": {"max": 60, "time": True}}}
BAD_FACTORS = [0, 0.0, -1.5, math.nan, math.inf, -math.inf, "2", None, True]


def write_reference(path, text):
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------- the arithmetic

def test_scaling_multiplies_time_bounds_by_the_factor_and_the_tolerance():
    assert results.scale_bound(60, 2.0) == 120
    assert results.scale_bound(60, 0.5) == 30  # a faster machine gets a tighter bound
    assert results.scale_bound(60, 2.0, 0.05) == pytest.approx(126)
    assert results.scale_bound(60, 1.0, 0.0) == 60


@pytest.mark.parametrize("factor", BAD_FACTORS)
def test_a_factor_that_is_not_finite_and_positive_is_refused(factor):
    with pytest.raises(ValueError, match="finite positive number.*--no-calibrate"):
        results.scale_bound(60, factor)
    if factor is not None:  # evaluate(factor=None) means "not calibrated"
        with pytest.raises(ValueError, match="finite positive"):
            results.evaluate("02_mlp", {"training_seconds": 50}, TARGETS, factor=factor)
    with pytest.raises(ValueError, match="finite positive"):
        calibrate.describe(factor)


@pytest.mark.parametrize("tolerance", [-0.01, 1.0, math.nan, "0.05"])
def test_a_tolerance_outside_zero_to_one_is_refused(tolerance):
    with pytest.raises(ValueError, match="tolerance"):
        results.scale_bound(60, 2.0, tolerance)


def test_slowdown_is_the_reference_score_over_this_machines(tmp_path):
    reference = calibrate.Reference(score=40.0, machine="a CPU", tolerance=0.05, path=tmp_path / "r.toml")
    assert calibrate.slowdown(20.0, reference) == 2.0
    assert calibrate.slowdown(80.0, reference) == 0.5
    for score in (0, -3, math.nan, math.inf):
        with pytest.raises(ValueError, match="this machine's calibration score"):
            calibrate.slowdown(score, reference)


def test_the_sentence_states_speed_and_the_bound_multiplier():
    assert calibrate.describe(1 / 0.71) == ("this machine runs the course's workloads at 0.71x the reference "
                                            "(time bounds x 1.41)")
    assert "at 2.00x the reference" in calibrate.describe(0.5)


# ---------------------------------------------------------------------------- the reference file

def test_the_committed_reference_is_valid_and_describes_its_machine():
    reference = calibrate.load_reference()
    assert reference.score > 0 and 0 <= reference.tolerance <= 0.2  # wider would hide real regressions
    assert "cores" in reference.machine and "AVX" in reference.machine


def test_a_missing_reference_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "calibration_reference.toml"
    with pytest.raises(FileNotFoundError, match="missing") as caught:
        calibrate.load_reference(path)
    assert str(path) in str(caught.value) and "git checkout" in str(caught.value)
    assert "--no-calibrate" in str(caught.value)


@pytest.mark.parametrize("text, message", [
    ("score = [", "not valid TOML"),
    ('machine = "a CPU"\n', "score"),
    ('score = 0\nmachine = "a CPU"\n', "score"),
    ('score = -2.0\nmachine = "a CPU"\n', "score"),
    ('score = nan\nmachine = "a CPU"\n', "score"),
    ('score = inf\nmachine = "a CPU"\n', "score"),
    ('score = "fast"\nmachine = "a CPU"\n', "score"),
    ("score = 40.0\n", "machine must describe"),
    ('score = 40.0\nmachine = "a CPU"\ntolerance = 1.5\n', "tolerance"),
])
def test_a_corrupt_reference_names_the_file_and_the_fix(tmp_path, text, message):
    path = write_reference(tmp_path / "calibration_reference.toml", text)
    with pytest.raises(ValueError, match=message) as caught:
        calibrate.load_reference(path)
    assert str(path) in str(caught.value) and "--no-calibrate" in str(caught.value)


# ---------------------------------------------------------------------------- judging against the factor

def rows_by_metric(rows):
    return {row.metric: row for row in rows}


def test_time_bounds_are_scaled_and_quality_bounds_are_not():
    metrics = {"test_accuracy": 0.9, "training_seconds": 100.0, "wall_seconds": 200.0, "seconds_per_epoch": 9.0}
    rows = rows_by_metric(results.evaluate("02_mlp", metrics, TARGETS, factor=2.0, tolerance=0.05))
    assert rows["training_seconds"].met is True and rows["training_seconds"].scaled == "<= 126"
    assert rows["training_seconds"].value == 100.0  # the raw figure, as measured
    assert rows["training_seconds"].target == "<= 60" and rows["training_seconds"].factor == 2.0
    assert rows["wall_seconds"].met is True and rows["wall_seconds"].scaled == "<= 378"
    assert rows["test_accuracy"].scaled == "" and rows["test_accuracy"].factor is None
    assert rows["seconds_per_epoch"].factor is None  # not marked time = true: no name is guessed
    faster = rows_by_metric(results.evaluate("02_mlp", {"training_seconds": 40.0}, TARGETS, factor=0.5))
    assert faster["training_seconds"].met is False and faster["training_seconds"].scaled == "<= 30"


def test_without_a_factor_every_bound_is_judged_as_written():
    rows = rows_by_metric(results.evaluate("02_mlp", {"training_seconds": 100.0}, TARGETS))
    assert rows["training_seconds"].met is False and rows["training_seconds"].scaled == ""
    assert rows["training_seconds"].factor is None


def test_a_quality_figure_read_at_a_fixed_time_is_not_judged_off_the_reference_speed():
    metrics = {"val_loss_at_60_seconds": 1.95, "seconds_to_1_88": 110.0}
    rows = rows_by_metric(results.evaluate("05_transformer", metrics, TARGETS, factor=2.0, tolerance=0.05))
    assert rows["val_loss_at_60_seconds"].met is None
    assert "not judged" in rows["val_loss_at_60_seconds"].note and "120 s" in rows["val_loss_at_60_seconds"].note
    assert rows["seconds_to_1_88"].met is True  # the same question, judged at the scaled time
    near = rows_by_metric(results.evaluate("05_transformer", metrics, TARGETS, factor=1.04, tolerance=0.05))
    assert near["val_loss_at_60_seconds"].met is False and near["val_loss_at_60_seconds"].note == ""
    written = rows_by_metric(results.evaluate("05_transformer", metrics, TARGETS))
    assert written["val_loss_at_60_seconds"].met is False


def test_the_table_shows_the_figure_the_scaled_bound_and_the_factor():
    metrics = {"test_accuracy": 0.9, "training_seconds": 100.0}
    table = results.format_rows(results.evaluate("02_mlp", metrics, TARGETS, include_missing=False, factor=2.0,
                                                 tolerance=0.05), show_chapter=True)
    header, _, accuracy, training = table.splitlines()
    assert header.split() == ["chapter", "metric", "value", "target", "scaled", "target", "factor", "met"]
    assert training.split() == ["02_mlp", "training_seconds", "100", "<=", "60", "<=", "126", "x", "2.00", "yes"]
    assert accuracy.split() == ["02_mlp", "test_accuracy", "0.9", ">=", "0.89", "yes"]
    plain = results.format_rows(results.evaluate("02_mlp", metrics, TARGETS, include_missing=False))
    assert plain.splitlines()[0].split() == ["metric", "value", "target", "met"]


@pytest.mark.parametrize("value, expected", [("2.0 0.05", (2.0, 0.05)), ("", (None, 0.0)), ("0 0.05", (None, 0.0)),
                                             ("nan 0.05", (None, 0.0)), ("2.0", (None, 0.0)),
                                             ("fast 0.05", (None, 0.0))])
def test_the_factor_handed_to_a_kernel(monkeypatch, value, expected):
    monkeypatch.setenv(results.FACTOR_VARIABLE, value)
    assert results.factor_from_environment() == expected


def test_record_in_a_kernel_prints_the_scaled_bound(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(results.FACTOR_VARIABLE, "2.0 0.05")
    monkeypatch.delenv(results.RESULTS_DIR_VARIABLE, raising=False)
    results.record("02_mlp", training_seconds=100.0)
    printed = capsys.readouterr().out
    assert "<= 126" in printed and "x 2.00" in printed and "yes" in printed


def test_every_wall_time_and_training_time_target_is_marked_as_time():
    for chapter, metrics in results.load_targets().items():
        for metric, bound in metrics.items():
            if metric == "wall_seconds" or metric.endswith("training_seconds"):
                assert bound.get("time") is True, f"{chapter}.{metric} is a time but lacks time = true"


# ---------------------------------------------------------------------------- the workload (one smoke test)

def test_the_workload_runs_and_returns_positive_rates():
    measured = calibrate.measure(rounds=1, steps_per_round=1)
    assert measured.cnn_steps_per_second > 0 and measured.transformer_steps_per_second > 0
    assert measured.score == pytest.approx(math.sqrt(measured.cnn_steps_per_second
                                                     * measured.transformer_steps_per_second))
    with pytest.raises(ValueError, match="rounds"):
        calibrate.measure(rounds=0)


def test_a_part_is_timed_by_its_fastest_round():
    assert calibrate.round_rate(40, [2.0, 1.0, 4.0, 1.6]) == 40.0  # a slowed round (4.0 s) does not count
    with pytest.raises(ValueError, match="at least one"):
        calibrate.round_rate(40, [])
    with pytest.raises(ValueError, match="round's seconds"):
        calibrate.round_rate(40, [1.0, 0.0])


def test_the_spread_is_the_largest_distance_from_the_median():
    assert calibrate.spread([40.0, 42.0, 38.0]) == (40.0, 0.05)
    assert calibrate.spread([10.0, 12.0]) == (11.0, pytest.approx(1 / 11))
    with pytest.raises(ValueError, match="at least one"):
        calibrate.spread([])
    with pytest.raises(ValueError, match="finite positive"):
        calibrate.spread([40.0, math.nan])
