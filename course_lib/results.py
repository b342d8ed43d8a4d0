"""Record a chapter's figures and compare them with the targets in ``targets.toml``.

In a notebook, :func:`record` prints the figures beside their targets. Under the runner
(``python -m course_lib.run``), which sets ``COURSE_RESULTS_DIR``, it also writes them to
``<dir>/<chapter>.json`` so the runner can build its results table.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tomllib

RESULTS_DIR_VARIABLE = "COURSE_RESULTS_DIR"
TARGETS_FILE = Path(__file__).with_name("targets.toml")
BOUND_KINDS = ("min", "max", "below", "above")


@dataclass(frozen=True)
class Row:
    """One figure of one chapter: its value, its target in words, and whether it was met
    (``None`` when it has no target)."""

    chapter: str
    metric: str
    value: float | None
    target: str
    met: bool | None


def load_targets(path: Path = TARGETS_FILE) -> dict[str, dict[str, dict[str, float | str]]]:
    """Read the targets file: ``{chapter: {metric: {kind: bound}}}``, validated."""
    with open(path, "rb") as handle:
        targets = tomllib.load(handle)
    for chapter, metrics in targets.items():
        for metric, bound in metrics.items():
            if not isinstance(bound, dict) or len(bound) != 1 or next(iter(bound)) not in BOUND_KINDS:
                raise ValueError(f"{path}: target {chapter}.{metric} must be one of {BOUND_KINDS}, got {bound!r}.")
    return targets


def _check_name(chapter: str) -> None:
    if not chapter or any(char in chapter for char in "/\\. ") or chapter != chapter.strip():
        raise ValueError(f"A chapter is named by its notebook's file stem, such as '02_mlp'; got {chapter!r}.")


def evaluate(chapter: str, metrics: dict[str, float], targets: dict | None = None,
             include_missing: bool = True) -> list[Row]:
    """Compare a chapter's figures with its targets: one :class:`Row` per figure, plus (with
    ``include_missing``) one per target that no figure was recorded for, marked not met."""
    chapter_targets = (load_targets() if targets is None else targets).get(chapter, {})
    rows = []
    missing = [m for m in chapter_targets if m not in metrics] if include_missing else []
    for metric in list(metrics) + missing:
        value = metrics.get(metric)
        bound = chapter_targets.get(metric)
        if bound is None:
            rows.append(Row(chapter, metric, value, "", None))
            continue
        kind, limit = next(iter(bound.items()))
        if kind in ("below", "above"):
            reference = metrics.get(limit)
            target = f"{'<' if kind == 'below' else '>'} {limit}" + (f" ({reference:.4g})" if reference is not None else "")
            limit = reference
        else:
            target = f"{'>=' if kind == 'min' else '<='} {limit:g}"
        if value is None or limit is None or math.isnan(value):
            met = False
        elif kind == "min":
            met = value >= limit
        elif kind == "max":
            met = value <= limit
        elif kind == "below":
            met = value < limit
        else:
            met = value > limit
        rows.append(Row(chapter, metric, value, target, met))
    return rows


def format_rows(rows: list[Row], show_chapter: bool = False) -> str:
    """A plain-text table of rows, aligned, with a 'met' column."""
    header = (["chapter"] if show_chapter else []) + ["metric", "value", "target", "met"]
    lines = []
    for row in rows:
        value = "missing" if row.value is None else f"{row.value:.4g}"
        met = {True: "yes", False: "NO", None: ""}[row.met]
        lines.append(([row.chapter] if show_chapter else []) + [row.metric, value, row.target, met])
    widths = [max(len(str(item)) for item in column) for column in zip(header, *lines)]
    render = lambda items: "  ".join(str(item).ljust(width) for item, width in zip(items, widths)).rstrip()  # noqa: E731
    return "\n".join([render(header), render(["-" * w for w in widths])] + [render(line) for line in lines])


def write_json_atomically(path: Path, data) -> None:
    """Write JSON to a temporary file beside ``path``, then replace ``path`` with it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, sort_keys=True)
            stream.write("\n")
        os.chmod(temporary, 0o644)  # mkstemp makes files private; these are shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def record(chapter: str, **metrics: float) -> None:
    """Record a chapter's figures: print them beside their targets and hand them to the runner.

    Args:
        chapter: the notebook's file stem, such as ``"02_mlp"``.
        **metrics: named numbers, such as ``test_accuracy=0.9012, training_seconds=48.3``.
            Figures recorded earlier in the same run are kept unless recorded again.

    The runner measures ``wall_seconds`` itself; targets for figures not recorded here are
    checked in the runner's table, not in the notebook.
    """
    _check_name(chapter)
    if not metrics:
        raise ValueError("record() needs at least one figure, such as record('02_mlp', test_accuracy=0.9).")
    clean = {}
    for name, value in metrics.items():
        try:
            clean[name] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"Figure {name!r} must be a number, got {value!r}.") from None
    print(format_rows(evaluate(chapter, clean, include_missing=False)))
    directory = os.environ.get(RESULTS_DIR_VARIABLE)
    if directory:
        path = Path(directory) / f"{chapter}.json"
        stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        write_json_atomically(path, {**stored, **clean})
