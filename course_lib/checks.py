"""Numerical checks: compare arrays, estimate gradients by finite differences, check shapes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def _as_numpy(value, name: str) -> np.ndarray:
    if hasattr(value, "numpy"):  # a TensorFlow tensor or variable
        value = value.numpy()
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}.")
    return array


def assert_close(actual, expected, *, atol: float = 1e-8, rtol: float = 0.0, name: str = "value") -> float:
    """Fail loudly unless ``actual`` and ``expected`` agree elementwise.

    The test is ``|actual - expected| <= atol + rtol * |expected|`` for every element, and the
    shapes must be equal (no broadcasting). Accepts NumPy arrays, TensorFlow tensors, lists and
    scalars.

    Returns:
        The largest absolute difference, so a notebook can show how close the two were.

    Raises:
        AssertionError: shapes differ, NaNs appear in one but not the other, or some element is
            outside the tolerance; the message gives the max absolute and relative difference
            and where it happened.
    """
    if atol < 0 or rtol < 0:
        raise ValueError(f"atol and rtol must be non-negative, got {atol} and {rtol}.")
    a = _as_numpy(actual, f"{name} (actual)").astype(np.float64)
    e = _as_numpy(expected, f"{name} (expected)").astype(np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"{name}: shapes differ, actual {a.shape} vs expected {e.shape}.")
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if np.any(nan_a != nan_e):
        raise AssertionError(f"{name}: NaN in {int(np.sum(nan_a != nan_e))} places in one array and not the other.")
    difference = np.where(nan_a, 0.0, np.abs(a - e))
    if a.size == 0:
        return 0.0
    max_abs = float(np.max(difference))
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(difference == 0, 0.0, difference / np.abs(e))
    max_rel = float(np.max(relative))
    bad = difference > atol + rtol * np.abs(np.where(nan_e, 0.0, e))
    if np.any(bad):
        where = np.unravel_index(int(np.argmax(np.where(bad, difference, -1))), a.shape)
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {a.size} elements differ beyond atol={atol:g}, rtol={rtol:g}; "
            f"max abs difference {max_abs:.3e}, max rel difference {max_rel:.3e}; "
            f"worst at index {tuple(int(i) for i in where)}: actual {a[where]!r} vs expected {e[where]!r}."
        )
    return max_abs


def numerical_gradient(function: Callable[[np.ndarray], float], x: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Central finite-difference gradient ``(f(x + h e_i) - f(x - h e_i)) / 2h`` of a scalar function.

    Args:
        function: maps an array shaped like ``x`` to a scalar.
        x: the point, a ``float64`` array of any shape (float32 is too coarse for this).
        step: ``h``; about 1e-6 balances truncation and round-off error in float64.

    Returns:
        A ``float64`` array shaped like ``x``. ``x`` itself is left unchanged.
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise ValueError(f"numerical_gradient needs a float64 array, got {x.dtype}; pass x.astype(np.float64).")
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}.")
    point = x.copy()
    gradient = np.zeros_like(point)
    flat_point, flat_gradient = point.reshape(-1), gradient.reshape(-1)
    for i in range(flat_point.size):
        original = flat_point[i]
        flat_point[i] = original + step
        upper = float(function(point))
        flat_point[i] = original - step
        lower = float(function(point))
        flat_point[i] = original
        flat_gradient[i] = (upper - lower) / (2 * step)
    return gradient


def check_shape(array, expected: Sequence[int | None], name: str = "array") -> np.ndarray:
    """Check that ``array`` has the ``expected`` shape (``None`` matches any size) and return it.

    Raises:
        ValueError: wrong number of dimensions or a wrong size, naming both shapes.
    """
    shape = tuple(_as_numpy(array, name).shape) if not hasattr(array, "shape") else tuple(array.shape)
    expected = tuple(expected)
    matches = len(shape) == len(expected) and all(e is None or e == s for s, e in zip(shape, expected))
    if not matches:
        wanted = "[" + ", ".join("any" if e is None else str(e) for e in expected) + "]"
        raise ValueError(f"{name} has shape {list(shape)}, expected {wanted}.")
    return array
