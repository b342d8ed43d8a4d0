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


def _tolerance(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number such as 1e-6, got {value!r}.")
    if np.isnan(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative number (not NaN), got {value!r}.")
    return float(value)


def assert_close(actual, expected, *, atol: float = 1e-8, rtol: float = 0.0, name: str = "value") -> float:
    """Fail loudly unless ``actual`` and ``expected`` agree elementwise.

    The test is ``|actual - expected| <= atol + rtol * |expected|`` for every finite element, and
    the shapes must be equal (no broadcasting). A NaN must meet a NaN, and an infinity the same
    infinity (same sign; for complex values, the same value): no tolerance covers an infinity.
    Complex values are compared as complex numbers. Accepts NumPy arrays, TensorFlow tensors,
    lists and scalars.

    Returns:
        The largest absolute difference, so a notebook can show how close the two were.

    Raises:
        AssertionError: shapes differ, NaNs or infinities appear in one but not the other, or
            some element is outside the tolerance; the message gives the max absolute and
            relative difference and where it happened.
        ValueError: ``atol`` or ``rtol`` is negative, NaN or not a number.
    """
    atol, rtol = _tolerance(atol, "atol"), _tolerance(rtol, "rtol")
    a, e = _as_numpy(actual, f"{name} (actual)"), _as_numpy(expected, f"{name} (expected)")
    kind = np.complex128 if np.iscomplexobj(a) or np.iscomplexobj(e) else np.float64
    a, e = a.astype(kind), e.astype(kind)
    if a.shape != e.shape:
        raise AssertionError(f"{name}: shapes differ, actual {a.shape} vs expected {e.shape}.")
    if a.size == 0:
        return 0.0
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if np.any(nan_a != nan_e):
        raise AssertionError(f"{name}: NaN in {int(np.sum(nan_a != nan_e))} places in one array and not the other.")
    infinite = ~nan_a & (np.isinf(a) | np.isinf(e))
    unmatched = infinite & (a != e)
    if np.any(unmatched):
        where = tuple(int(i) for i in np.argwhere(unmatched)[0])
        raise AssertionError(
            f"{name}: {int(unmatched.sum())} of {a.size} elements are infinite in one array and not equal in "
            f"the other; first at index {where}: actual {a[where]!r} vs expected {e[where]!r}."
        )
    finite = ~nan_a & ~infinite
    difference = np.abs(np.where(finite, a, 0) - np.where(finite, e, 0))  # masked first: no inf - inf warning
    magnitude = np.abs(np.where(finite, e, 0))
    max_abs = float(np.max(difference))
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(difference == 0, 0.0, difference / magnitude)
    max_rel = float(np.max(relative))
    bad = difference > atol + rtol * magnitude
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
        TypeError: ``expected`` is not a sequence of ints and ``None``.
    """
    if isinstance(expected, (str, bytes)) or not isinstance(expected, Sequence) or not all(
            e is None or (isinstance(e, (int, np.integer)) and not isinstance(e, bool)) for e in expected):
        hint = f" For a 1-D array of length {expected}, write ({expected},)." if isinstance(expected, int) else ""
        raise TypeError(f"expected must be a shape: a tuple of sizes or None, such as (None, 28, 28); "
                        f"got {expected!r}.{hint}")
    shape = tuple(_as_numpy(array, name).shape) if not hasattr(array, "shape") else tuple(array.shape)
    expected = tuple(expected)
    matches = len(shape) == len(expected) and all(e is None or e == s for s, e in zip(shape, expected))
    if not matches:
        wanted = "[" + ", ".join("any" if e is None else str(e) for e in expected) + "]"
        raise ValueError(f"{name} has shape {list(shape)}, expected {wanted}.")
    return array
