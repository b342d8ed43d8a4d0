"""Plots the chapters share. Every function takes ``ax=None`` (a new figure when omitted),
returns the ``Axes`` it drew on, never calls ``plt.show()`` and never changes global style;
:func:`use_course_style` does that, once, from the setup call."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

# Okabe & Ito's palette: distinguishable with the common forms of colour blindness.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

COURSE_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "axes.prop_cycle": mpl.cycler(color=COLOURS),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.frameon": False,
    "image.cmap": "viridis",
}


def use_course_style() -> None:
    """Apply the course's matplotlib style (modest DPI, colour-blind-safe colours, light grid)."""
    mpl.rcParams.update(COURSE_STYLE)


def _axes(ax):
    return ax if ax is not None else plt.figure().add_subplot()


def _class_indices(values, name: str) -> np.ndarray:
    """``values`` as a 1-D int64 array of class indices, or a ValueError that says what it holds
    instead (floats such as probabilities, a 2-D array of scores, strings) and how to fix it."""
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        hint = (f" It looks like per-class scores: pass {name}.argmax(axis=1)." if array.ndim == 2 else "")
        raise ValueError(f"{name} has shape {list(array.shape)}; it must be 1-D class indices [num_examples].{hint}")
    if array.size and not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{name} must hold class indices (integers), got dtype {array.dtype}.")
    if np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.complexfloating):
        whole = np.isfinite(array) & (array == np.round(array))
        if not np.all(whole):
            example = array[~whole][0]
            raise ValueError(f"{name} holds non-integer values such as {example:g}; it must hold class indices. "
                             f"For probabilities or scores, pass their argmax(axis=1) (or > 0.5 for one column).")
    return array.astype(np.int64)


def _history_dict(history) -> dict[str, list[float]]:
    """Accept a Keras ``History`` or a plain ``{metric: [per-epoch values]}`` mapping."""
    if hasattr(history, "history"):
        history = history.history
    if not isinstance(history, Mapping):
        raise TypeError(f"Expected a Keras History or a dict of per-epoch lists, got {type(history).__name__}.")
    return {key: list(map(float, values)) for key, values in history.items()}


def _is_history_dict(value) -> bool:
    """A mapping of metric names to per-epoch numbers (as opposed to a mapping of runs)."""
    return isinstance(value, Mapping) and bool(value) and all(
        isinstance(v, (list, tuple, np.ndarray)) and all(np.isscalar(x) for x in v) for v in value.values())


def plot_learning_curves(runs, metric: str = "loss", ax=None, validation: bool = True, ylabel: str | None = None):
    """Per-epoch curves of ``metric`` for one or several runs.

    Args:
        runs: a ``History`` (or ``{metric: values}`` dict); or a mapping ``{label: history}``;
            or ``{label: [history, history, ...]}`` for repeated runs (seeds), drawn as the
            mean with a band from the lowest to the highest run.
        metric: the key to plot, such as ``"loss"`` or ``"accuracy"``; its ``val_`` partner is
            drawn dashed when present and ``validation`` is true.
    """
    ax = _axes(ax)
    if hasattr(runs, "history") or _is_history_dict(runs):
        runs = {"": runs}
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a History, a dict of per-epoch lists, or a non-empty {label: history} mapping.")
    for index, (label, run) in enumerate(runs.items()):
        colour = COLOURS[index % len(COLOURS)]
        group = [_history_dict(h) for h in (run if isinstance(run, (list, tuple)) else [run])]
        keys = [(metric, "-", "training")] + ([(f"val_{metric}", "--", "validation")] if validation else [])
        for key, line_style, part in keys:
            if not all(key in h for h in group):
                if key == metric:
                    raise KeyError(f"Metric {metric!r} not in history; available: {sorted(group[0])}.")
                continue
            length = min(len(h[key]) for h in group)
            if length == 0:
                raise ValueError(f"{key!r} has no values{f' in run {label!r}' if label else ''}: train for at least "
                                 f"one epoch before plotting.")
            values = np.array([h[key][:length] for h in group])
            epochs = np.arange(1, length + 1)
            name = f"{label} ({part})" if label else part
            ax.plot(epochs, values.mean(axis=0), line_style, color=colour, label=name)
            if len(group) > 1:
                ax.fill_between(epochs, values.min(axis=0), values.max(axis=0), color=colour, alpha=0.2, linewidth=0)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or metric.replace("_", " "))
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    if len(ax.get_lines()) > 1:
        ax.legend()
    return ax


def show_image_grid(images, labels: Sequence[str] | None = None, num_columns: int = 8, ax=None, cmap: str = "gray_r"):
    """Tile greyscale images ``[num_images, height, width]`` into one picture with a caption each.

    Args:
        labels: one caption per image (for example ``"Coat"`` or ``"true: Coat\\npred: Shirt"``).
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape [num_images, height, width], got {list(images.shape)}.")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"Got {len(images)} images but {len(labels)} labels.")
    count, height, width = images.shape
    if count == 0 or height == 0 or width == 0:
        raise ValueError(f"images has shape {list(images.shape)}: there are no images (or no pixels) to show.")
    num_columns = max(1, min(num_columns, count))
    num_rows = -(-count // num_columns)
    gap_x = max(2, width // 4) if labels is not None else 2
    gap_y = max(2, height // 2) if labels is not None else 2  # room for a caption under each image
    canvas = np.full((num_rows * (height + gap_y) - gap_y, num_columns * (width + gap_x) - gap_x), np.nan)
    for index, image in enumerate(images):
        row, column = divmod(index, num_columns)
        canvas[row * (height + gap_y): row * (height + gap_y) + height,
               column * (width + gap_x): column * (width + gap_x) + width] = image
    if ax is None:
        scale = 1.1 / (width + gap_x)  # inches per pixel: about 1.1 inch per column
        figure = plt.figure(figsize=(scale * canvas.shape[1], scale * (canvas.shape[0] + gap_y)))
        ax = figure.add_subplot()
        figure.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01)
    ax.imshow(np.ma.masked_invalid(canvas), cmap=cmap, interpolation="nearest")
    ax.set_axis_off()
    for index, text in enumerate(labels or []):
        row, column = divmod(index, num_columns)
        ax.text(column * (width + gap_x) + width / 2, row * (height + gap_y) + height + 0.5, text,
                ha="center", va="top", fontsize=8, linespacing=1.0)
    return ax


def plot_confusion_matrix(y_true, y_pred, class_names: Sequence[str], ax=None, normalize: bool = True,
                          fontsize: float = 9.0):
    """Confusion matrix: rows are true classes, columns predicted ones; each cell annotated.

    With ``normalize`` each row is divided by its total, so the diagonal is per-class recall.
    ``fontsize`` (points) sets the cell annotations; 9 reads well for 10 classes on a 6.5-inch
    figure at the course's DPI, and a larger figure can take more.
    """
    if isinstance(fontsize, bool) or not isinstance(fontsize, (int, float)) or not 1 <= fontsize <= 72:
        raise ValueError(f"fontsize must be a number of points between 1 and 72, got {fontsize!r}.")
    y_true, y_pred = _class_indices(y_true, "y_true"), _class_indices(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.size} vs {y_pred.size}.")
    if y_true.size == 0:
        raise ValueError("y_true and y_pred are empty: a confusion matrix needs at least one example.")
    num_classes = len(class_names)
    if y_true.size and (min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= num_classes):
        raise ValueError(f"Labels must lie in 0..{num_classes - 1} for {num_classes} class names.")
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    shown = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    ax = ax if ax is not None else plt.figure(figsize=(6.5, 5.5)).add_subplot()
    image = ax.imshow(shown, cmap="Blues", vmin=0)
    for (row, column), value in np.ndenumerate(shown):
        text = f"{value:.2f}" if normalize else str(value)
        ax.text(column, row, text, ha="center", va="center", fontsize=fontsize,
                color="white" if value > 0.6 * shown.max() else "black")
    ax.set_xticks(range(num_classes), class_names, rotation=45, ha="right")
    ax.set_yticks(range(num_classes), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, label="fraction of true class" if normalize else "count")
    return ax


def plot_decision_boundary(predict: Callable[[np.ndarray], np.ndarray], x, y, ax=None,
                           resolution: int = 200, margin: float = 0.5, colorbar_label: str | None = None):
    """Shade the plane by a 2-D classifier's output and draw the labelled points on top.

    The shading runs from class 0's colour through white (0.5) to class 1's, the colours of
    the points.

    Args:
        predict: maps points ``[n, 2]`` to scores ``[n]`` (probability of class 1, or a class
            index); the 0.5 level is drawn as the boundary.
        x: points ``[num_points, 2]``; ``y``: integer labels ``[num_points]``.
        colorbar_label: when given, a colour bar with this label explains the shading.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape [num_points, 2], got {list(x.shape)}.")
    if len(x) == 0:
        raise ValueError("x is empty: plot_decision_boundary needs at least one point.")
    _class_indices(y, "y")  # checked; the labels are drawn as given (0 or 0.0)
    y = np.asarray(y).reshape(-1)
    if len(y) != len(x):
        raise ValueError(f"Got {len(x)} points but {len(y)} labels; give one label per point.")
    ax = _axes(ax)
    low, high = x.min(axis=0) - margin, x.max(axis=0) + margin
    grid_x, grid_y = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    scores = np.asarray(predict(np.column_stack([grid_x.ravel(), grid_y.ravel()]))).reshape(grid_x.shape)
    # Probabilities are shaded on a fixed 0..1 scale, so a classifier that outputs the same
    # value everywhere shows as one honest colour, not as a stretched colour ramp.
    probabilities = scores.min() >= 0 and scores.max() <= 1
    levels = np.linspace(0, 1, 21) if probabilities else 20
    class_colours = mpl.colors.LinearSegmentedColormap.from_list("class_colours", [COLOURS[0], "white", COLOURS[1]])
    shading = ax.contourf(grid_x, grid_y, scores, levels=levels, cmap=class_colours, alpha=0.45,
                          vmin=0 if probabilities else None, vmax=1 if probabilities else None)
    if colorbar_label is not None:
        ax.figure.colorbar(shading, ax=ax, label=colorbar_label)
    if np.ptp(scores) > 0 and scores.min() < 0.5 < scores.max():
        ax.contour(grid_x, grid_y, scores, levels=[0.5], colors="black", linewidths=1.5)
    for label in np.unique(y):
        ax.scatter(*x[y == label].T, s=20, color=COLOURS[int(label) % len(COLOURS)], edgecolor="white",
                   linewidth=0.5, label=f"class {label}")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if len(np.unique(y)) > 1:
        ax.legend(loc="upper right")
    return ax


def plot_heatmap(matrix, x_labels: Sequence[str] | None = None, y_labels: Sequence[str] | None = None, ax=None,
                 cmap: str = "viridis", colorbar_label: str | None = None, xlabel: str = "", ylabel: str = ""):
    """Show a 2-D array as a heat map (attention weights: rows are queries, columns keys)."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {list(matrix.shape)}.")
    if matrix.size == 0:
        raise ValueError(f"matrix is empty (shape {list(matrix.shape)}); there is nothing to show.")
    ax = _axes(ax)
    image = ax.imshow(matrix, cmap=cmap, aspect="auto", interpolation="nearest")
    if x_labels is not None:
        ax.set_xticks(range(len(x_labels)), x_labels)
    if y_labels is not None:
        ax.set_yticks(range(len(y_labels)), y_labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    if colorbar_label is not None:
        ax.figure.colorbar(image, ax=ax, label=colorbar_label)
    return ax


def plot_loss_surface(loss: Callable[[np.ndarray, np.ndarray], np.ndarray], x_range: tuple[float, float],
                      y_range: tuple[float, float], trajectories: Mapping[str, np.ndarray] | None = None,
                      ax=None, levels: int = 30, log_scale: bool = False, resolution: int = 200):
    """Contours of a 2-D loss ``loss(w1, w2)`` (vectorised over arrays) with optimisation paths.

    Args:
        trajectories: ``{label: points [num_steps, 2]}``, each drawn as a line with its start
            marked by a circle and its end by a cross.
        log_scale: space the contour levels logarithmically (for losses spanning decades,
            such as Rosenbrock's).
    """
    ax = _axes(ax)
    w1, w2 = np.meshgrid(np.linspace(*x_range, resolution), np.linspace(*y_range, resolution))
    values = np.asarray(loss(w1, w2), dtype=np.float64)
    if log_scale:
        positive = values[values > 0]
        bounds = np.geomspace(max(positive.min(), 1e-6), values.max(), levels) if positive.size else levels
        ax.contour(w1, w2, values, levels=bounds, cmap="viridis", linewidths=0.7, norm=mpl.colors.LogNorm())
    else:
        ax.contour(w1, w2, values, levels=levels, cmap="viridis", linewidths=0.7)
    for index, (label, path) in enumerate((trajectories or {}).items()):
        path = np.asarray(path)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"Trajectory {label!r} must have shape [num_steps, 2], got {list(path.shape)}.")
        colour = COLOURS[index % len(COLOURS)]
        ax.plot(path[:, 0], path[:, 1], "-", color=colour, linewidth=1.5, label=label)
        ax.plot(*path[0], "o", color=colour, markersize=5)
        ax.plot(*path[-1], "x", color=colour, markersize=7, markeredgewidth=2)
    ax.set_xlim(*x_range)
    ax.set_ylim(*y_range)
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    if trajectories and len(trajectories) > 1:
        ax.legend(loc="upper right")
    return ax
