from __future__ import annotations

import numpy as np
import pytest

from course_lib.evaluation import char_windows, evaluate_char_model

tf = pytest.importorskip("tensorflow")


def test_char_windows_cover_every_prediction_once():
    ids = np.arange(11)
    inputs, targets, tail_inputs, tail_targets = char_windows(ids, 4)
    np.testing.assert_array_equal(inputs, [[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(targets, [[1, 2, 3, 4], [5, 6, 7, 8]])
    np.testing.assert_array_equal(tail_inputs, [[8, 9]])
    np.testing.assert_array_equal(tail_targets, [[9, 10]])
    assert char_windows(np.arange(9), 4)[2] is None


def test_char_windows_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        char_windows(np.zeros((2, 3)), 2)
    with pytest.raises(ValueError, match="context_length"):
        char_windows(np.arange(5), 0)


class UniformModel:
    def __init__(self, vocab_size):
        self.vocab_size = vocab_size

    def __call__(self, inputs, training=False):
        return tf.zeros((*inputs.shape, self.vocab_size))


class BigramModel:
    """Logits from a fixed table: the loss is computable by hand."""

    def __init__(self, table):
        self.table = tf.constant(table)

    def __call__(self, inputs, training=False):
        return tf.gather(self.table, inputs)


def test_uniform_model_scores_log_vocab_size():
    ids = np.random.default_rng(0).integers(0, 65, size=1001)
    assert evaluate_char_model(UniformModel(65), ids, context_length=64) == pytest.approx(np.log(65), rel=1e-6)


def test_matches_a_hand_computed_loss_and_ignores_batching():
    rng = np.random.default_rng(1)
    table = rng.normal(size=(5, 5)).astype(np.float32)
    ids = rng.integers(0, 5, size=103)
    log_probs = table - np.log(np.exp(table).sum(axis=1, keepdims=True))
    expected = -np.mean(log_probs[ids[:-1], ids[1:]])
    for context_length, batch_size in [(10, 3), (7, 256), (102, 1)]:
        loss = evaluate_char_model(BigramModel(table), ids, context_length, batch_size)
        assert loss == pytest.approx(expected, rel=1e-5)


def test_model_with_wrong_output_shape_is_explained():
    def last_step_only(inputs, training=False):
        return tf.zeros((inputs.shape[0], 5))

    with pytest.raises(ValueError, match="return_sequences"):
        evaluate_char_model(last_step_only, np.arange(20) % 5, context_length=4)
