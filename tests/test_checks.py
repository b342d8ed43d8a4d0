from __future__ import annotations

import warnings

import numpy as np
import pytest

from course_lib.checks import assert_close, check_shape, numerical_gradient


def test_assert_close_passes_and_returns_max_difference():
    assert assert_close([1.0, 2.0], [1.0, 2.0 + 1e-10]) == pytest.approx(1e-10, rel=1e-3)
    assert assert_close(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def test_assert_close_fails_loudly_with_details():
    with pytest.raises(AssertionError, match=r"weights: 1 of 3 elements.*max abs difference 1\.000e-03.*index \(2,\)"):
        assert_close([1.0, 2.0, 3.001], [1.0, 2.0, 3.0], atol=1e-6, name="weights")


def test_assert_close_relative_tolerance():
    assert_close([1000.0], [1000.5], atol=0, rtol=1e-3)
    with pytest.raises(AssertionError):
        assert_close([1000.0], [1001.5], atol=0, rtol=1e-3)


def test_assert_close_refuses_broadcasting_and_mismatched_nans():
    with pytest.raises(AssertionError, match="shapes differ"):
        assert_close(np.ones((2, 3)), np.ones(3))
    with pytest.raises(AssertionError, match="NaN"):
        assert_close([np.nan, 1.0], [0.0, 1.0])
    assert_close([np.nan, 1.0], [np.nan, 1.0])


def test_assert_close_accepts_tensors_and_rejects_bad_input():
    tf = pytest.importorskip("tensorflow")
    assert_close(tf.constant([1.5, 2.5], dtype=tf.float64), np.array([1.5, 2.5]))
    with pytest.raises(TypeError, match="numbers"):
        assert_close(["a"], ["a"])
    with pytest.raises(ValueError, match="non-negative"):
        assert_close([1.0], [1.0], atol=-1)


def test_numerical_gradient_matches_analytic_gradient():
    matrix = np.array([[2.0, 0.5], [0.5, 1.0]])
    point = np.array([0.3, -1.2])
    gradient = numerical_gradient(lambda w: 0.5 * w @ matrix @ w + np.sin(w[0]), point)
    assert_close(gradient, matrix @ point + np.array([np.cos(0.3), 0.0]), atol=1e-8)
    np.testing.assert_array_equal(point, [0.3, -1.2])  # input untouched


def test_numerical_gradient_of_matrix_argument():
    weights = np.arange(6, dtype=np.float64).reshape(2, 3) / 7
    assert_close(numerical_gradient(lambda w: np.sum(w**3), weights), 3 * weights**2, atol=1e-8)


def test_numerical_gradient_needs_float64_and_positive_step():
    with pytest.raises(ValueError, match="float64"):
        numerical_gradient(np.sum, np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="step"):
        numerical_gradient(np.sum, np.ones(3), step=0)


def test_check_shape():
    array = np.zeros((32, 28, 28))
    assert check_shape(array, (None, 28, 28)) is array
    with pytest.raises(ValueError, match=r"images has shape \[32, 28, 28\], expected \[any, 784\]"):
        check_shape(array, (None, 784), name="images")
    with pytest.raises(ValueError):
        check_shape([1, 2, 3], (4,))


# ---------------------------------------------------------------------------- faults (issue 19)

@pytest.mark.parametrize("actual, expected", [(5.0, np.inf), (np.inf, -np.inf), ([1.0, np.inf], [1.0, 2.0]),
                                              (-np.inf, -1e308), (np.inf, np.nan)])
def test_assert_close_fails_when_one_side_is_infinite(actual, expected):
    with pytest.raises(AssertionError, match="infinite|NaN"):
        assert_close(actual, expected, atol=1e-6, rtol=1e-3)


def test_assert_close_passes_infinities_that_match_exactly():
    assert assert_close([np.inf, -np.inf, 1.0], [np.inf, -np.inf, 1.0 + 1e-12], rtol=1e-6) == pytest.approx(1e-12)


@pytest.mark.parametrize("tolerances", [{"atol": np.nan}, {"rtol": np.nan}, {"atol": "1e-6"}, {"rtol": None}])
def test_assert_close_refuses_a_tolerance_that_is_not_a_number(tolerances):
    with pytest.raises(ValueError, match="atol|rtol"):
        assert_close(1.0, 1000.0, **tolerances)


def test_assert_close_compares_complex_values_as_complex():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning: the imaginary part is compared, not dropped
        with pytest.raises(AssertionError, match="1 of 1"):
            assert_close([1 + 1j], [1 + 2j])
        assert assert_close(np.array([1 + 1j, 2.0]), np.array([1 + 1j, 2.0 + 1e-10j])) == pytest.approx(1e-10)
        with pytest.raises(AssertionError, match="infinite"):
            assert_close([complex(np.inf, 0)], [complex(np.inf, 1)])


def test_check_shape_with_a_bare_number_says_how_to_write_a_shape():
    with pytest.raises(TypeError, match=r"expected must be a shape.*\(3,\)"):
        check_shape(np.zeros(3), 3)
    with pytest.raises(TypeError, match="expected must be a shape"):
        check_shape(np.zeros(3), (3.0,))


def test_assert_close_on_infinities_warns_about_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would be a stray line in a notebook's output
        assert_close([np.inf, -np.inf, np.nan, 1.0], [np.inf, -np.inf, np.nan, 1.0])
        with pytest.raises(AssertionError):
            assert_close([np.inf], [1.0])
