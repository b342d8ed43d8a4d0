"""Record a chapter's figures and compare them with the targets in ``targets.toml``.

In a notebook, :func:`record` prints the figures beside their targets. Under the runner
(``python -m course_lib.run``), which sets ``COURSE_RESULTS_DIR`` and ``COURSE_NOTEBOOK``, it
also writes them to ``<dir>/<notebook>.json`` so the runner can build its results table. The
file is keyed by the notebook the runner runs, not by the name passed to :func:`record`, so a
renamed copy of a chapter never overwrites the original's figures; a mismatch is noted in the
file (``_notes``) and shown in the table. A figure that is NaN or infinite is stored as
``null`` (JSON has no NaN) and named in ``_not_finite``.

Time targets are marked ``time = true`` in ``targets.toml`` and are judged against this
machine's speed: given the calibration ``factor`` (this machine's slowdown against the reference
machine, from :mod:`course_lib.calibrate`), a bound ``max = 60`` becomes
``<= 60 x factor x (1 + tolerance)``, where ``tolerance`` is the calibration's own spread. Accuracy
and loss targets stay absolute. A quality target taken at a fixed time (``at_seconds = 60``)
is judged as it stands when the factor is within the tolerance of 1, and otherwise is not
judged, with a note: its figure was read at 60 s of this machine's clock, and the runner cannot
read the chapter's curve at the scaled time after the fact.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tomllib

RESULTS_DIR_VARIABLE = "COURSE_RESULTS_DIR"
NOTEBOOK_VARIABLE = "COURSE_NOTEBOOK"  # set by the runner: the stem of the notebook it runs
TARGETS_FILE = Path(__file__).with_name("targets.toml")
FACTOR_VARIABLE = "COURSE_TIME_FACTOR"  # set by the runner: "factor tolerance", for record() in a kernel
BOUND_KINDS = ("min", "max", "below", "above")
OPTIONS = ("time", "at_seconds")  # time = true: a time bound, scaled; at_seconds = 60: a figure read at 60 s
NOT_FINITE_NOTE = "not a finite number (stored as null)"


@dataclass(frozen=True)
class Row:
    """One figure of one chapter: its value, its target in words, whether it was met
    (``None`` when it has no target or was not judged) and a note on anything wrong with it.
    A time target judged against this machine's speed also carries the bound it was judged
    against (``scaled``, in words) and the calibration ``factor``."""

    chapter: str
    metric: str
    value: float | None
    target: str
    met: bool | None
    note: str = ""
    scaled: str = ""
    factor: float | None = None


def bound_of(target: dict) -> tuple[str, float | str]:
    """The kind (one of :data:`BOUND_KINDS`) and limit of one target such as ``{"max": 60, "time": True}``."""
    kind = next(key for key in target if key in BOUND_KINDS)
    return kind, target[kind]


def scale_bound(limit: float, factor: float, tolerance: float = 0.0) -> float:
    """A time bound on this machine: ``limit x factor x (1 + tolerance)``.

    Raises:
        ValueError: ``factor`` is zero, negative, NaN or infinite, or ``tolerance`` is outside [0, 1).
    """
    from course_lib.calibrate import check_factor

    factor = check_factor(factor)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be a number in [0, 1), got {tolerance!r}.")
    return limit * factor * (1 + tolerance)


def factor_from_environment() -> tuple[float | None, float]:
    """The calibration factor and tolerance the runner hands to a kernel in :data:`FACTOR_VARIABLE`;
    ``(None, 0.0)`` outside the runner, under ``--no-calibrate``, or when the value is malformed."""
    try:
        factor, tolerance = (float(part) for part in os.environ.get(FACTOR_VARIABLE, "").split())
        scale_bound(1.0, factor, tolerance)  # a malformed value raises
    except ValueError:
        return None, 0.0
    return factor, tolerance


def load_targets(path: Path | None = None) -> dict[str, dict[str, dict[str, float | str]]]:
    """Read the targets file (default :data:`TARGETS_FILE`): ``{chapter: {metric: {kind: bound}}}``, validated.

    Raises:
        ValueError: the file is missing, unreadable, not TOML, empty, or a target is malformed;
            the message names the file and the entry.
    """
    path = Path(path or TARGETS_FILE)
    try:
        with open(path, "rb") as handle:
            targets = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML ({error}). Fix the line it names, or restore the file "
                         f"with `git checkout {path.name}`.") from None
    except OSError as error:
        raise ValueError(f"Cannot read the targets file {path} ({error.strerror or error}).") from None
    if not targets:
        raise ValueError(f"{path} holds no targets; every chapter needs at least wall_seconds = {{ max = ... }}. "
                         f"Restore the file with `git checkout {path.name}`.")
    for chapter, metrics in targets.items():
        if not isinstance(metrics, dict):
            raise ValueError(f"{path}: {chapter} = {metrics!r} is outside a chapter; targets go in chapter "
                             f"sections such as [\"02_mlp\"].")
        for metric, bound in metrics.items():
            if not isinstance(bound, dict) or [key in BOUND_KINDS for key in bound].count(True) != 1 \
                    or any(key not in BOUND_KINDS + OPTIONS for key in bound):
                raise ValueError(f"{path}: target {chapter}.{metric} must be one of {BOUND_KINDS}, optionally with "
                                 f"time = true (a time bound) or at_seconds = N (a figure read at N s), got {bound!r}.")
            kind, limit = bound_of(bound)
            if "time" in bound and (bound["time"] is not True or kind != "max" or "at_seconds" in bound):
                raise ValueError(f"{path}: target {chapter}.{metric}: time = true marks a time bound and goes with "
                                 f"max only, as in {{ max = 60, time = true }}; got {bound!r}.")
            at = bound.get("at_seconds", 1)
            if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at) or at <= 0:
                raise ValueError(f"{path}: target {chapter}.{metric}: at_seconds must be a positive number of "
                                 f"seconds, got {at!r}.")
            if kind in ("min", "max") and (isinstance(limit, bool) or not isinstance(limit, (int, float))):
                raise ValueError(f"{path}: target {chapter}.{metric} = {{ {kind} = {limit!r} }} needs a number.")
            if kind in ("below", "above") and not isinstance(limit, str):
                raise ValueError(f"{path}: target {chapter}.{metric} = {{ {kind} = {limit!r} }} needs the name of "
                                 f"another metric of the chapter, in quotes.")
    return targets


def _check_name(chapter: str) -> None:
    if not isinstance(chapter, str) or not chapter or any(char in chapter for char in "/\\. ") \
            or chapter != chapter.strip():
        raise ValueError(f"A chapter is named by its notebook's file stem, such as '02_mlp'; got {chapter!r}.")


def _known_notebooks() -> list[str] | None:
    """The stems of the course's notebooks, seen from the current folder (or the package's
    repository); ``None`` when no course repository is in sight."""
    from course_lib import notebooks as nb_tools

    for start in (Path.cwd(), Path(__file__).resolve().parent.parent):
        try:
            root = nb_tools.find_root(start)
        except FileNotFoundError:
            continue
        return [p.stem for p in nb_tools.list_notebooks(root, solutions=True)]
    return None


def _check_known(chapter: str) -> None:
    known = _known_notebooks()
    if known and chapter not in known:
        close = difflib.get_close_matches(chapter, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else f" Known notebooks: {', '.join(known)}."
        raise ValueError(f"record({chapter!r}, ...): there is no notebook {chapter}.ipynb in the course; "
                         f"name the chapter by its notebook's file stem.{hint}")


def read_recorded(path: Path) -> tuple[dict[str, float], list[str]]:
    """Read a chapter's results file written by :func:`record`: its figures (NaN or infinity
    restored where ``null`` was stored) and its notes. A missing file has neither."""
    path = Path(path)
    if not path.exists():
        return {}, []
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"Cannot read the results file {path} ({error}); delete it and run the chapter again.") \
            from None
    not_finite = stored.get("_not_finite", {})
    metrics = {name: float(not_finite.get(name, "nan")) if value is None else value
               for name, value in stored.items() if not name.startswith("_")}
    return metrics, list(stored.get("_notes", []))


def evaluate(chapter: str, metrics: dict[str, float], targets: dict | None = None,
             include_missing: bool = True, factor: float | None = None, tolerance: float = 0.0) -> list[Row]:
    """Compare a chapter's figures with its targets: one :class:`Row` per figure, plus (with
    ``include_missing``) one per target that no figure was recorded for, marked not met.

    With a calibration ``factor`` (this machine's slowdown against the reference), a time bound
    (``time = true``) is judged at ``bound x factor x (1 + tolerance)``, shown in the row's
    ``scaled``; ``None`` judges every bound as written (``--no-calibrate``).

    Raises:
        ValueError: ``factor`` is zero, negative, NaN or infinite, or ``tolerance`` is outside [0, 1).
    """
    if factor is not None:
        scale_bound(1.0, factor, tolerance)  # refuse a bad factor before judging anything
    chapter_targets = (load_targets() if targets is None else targets).get(chapter, {})
    rows = []
    missing = [m for m in chapter_targets if m not in metrics] if include_missing else []
    for metric in list(metrics) + missing:
        value = metrics.get(metric)
        bound = chapter_targets.get(metric)
        note = NOT_FINITE_NOTE if value is not None and not math.isfinite(value) else ""
        if bound is None:
            rows.append(Row(chapter, metric, value, "", None, note))
            continue
        kind, limit = bound_of(bound)
        scaled, row_factor = "", None
        if kind in ("below", "above"):
            reference = metrics.get(limit)
            target = f"{'<' if kind == 'below' else '>'} {limit}" + (f" ({reference:.4g})" if reference is not None else "")
            limit = reference
        else:
            target = f"{'>=' if kind == 'min' else '<='} {limit:g}"
            if factor is not None and bound.get("time"):
                limit, row_factor = scale_bound(limit, factor, tolerance), factor
                scaled = f"<= {limit:.4g}"
        if factor is not None and "at_seconds" in bound and abs(factor - 1) > tolerance:
            at = bound["at_seconds"]
            rows.append(Row(chapter, metric, value, target, None, (note + "; " if note else "") + (
                f"not judged: read at {at:g} s of this machine's clock, {at / factor:.0f} s of the reference's; "
                f"the chapter records no curve to read it at the scaled {at * factor:.0f} s"), "", factor))
            continue
        if value is None or limit is None or math.isnan(value) or math.isnan(limit):
            met = False
        elif kind == "min":
            met = value >= limit
        elif kind == "max":
            met = value <= limit
        elif kind == "below":
            met = value < limit
        else:
            met = value > limit
        rows.append(Row(chapter, metric, value, target, met, note, scaled, row_factor))
    return rows


def format_rows(rows: list[Row], show_chapter: bool = False) -> str:
    """A plain-text table of rows, aligned. The 'target' and 'met' columns appear only when
    some row has a target, the 'scaled target' and 'factor' columns (a time bound judged against
    this machine's speed) only when some row has a factor, the 'note' column only when some row
    has a note. 'value' is always the figure as measured."""
    with_targets = any(row.target for row in rows)
    with_scaled = any(row.factor is not None for row in rows)
    with_notes = any(row.note for row in rows)
    header = ((["chapter"] if show_chapter else []) + ["metric", "value"] + (["target"] if with_targets else [])
              + (["scaled target", "factor"] if with_scaled else []) + (["met"] if with_targets else [])
              + (["note"] if with_notes else []))
    lines = []
    for row in rows:
        value = ("missing" if row.target or not row.note else "") if row.value is None else f"{row.value:.4g}"
        met = {True: "yes", False: "NO", None: ""}[row.met]
        factor = "" if row.factor is None else f"x {row.factor:.2f}"
        lines.append(([row.chapter] if show_chapter else []) + [row.metric, value]
                     + ([row.target] if with_targets else []) + ([row.scaled, factor] if with_scaled else [])
                     + ([met] if with_targets else []) + ([row.note] if with_notes else []))
    widths = [max(len(str(item)) for item in column) for column in zip(header, *lines)]
    render = lambda items: "  ".join(str(item).ljust(width) for item, width in zip(items, widths)).rstrip()  # noqa: E731
    return "\n".join([render(header), render(["-" * w for w in widths])] + [render(line) for line in lines])


def write_json_atomically(path: Path, data) -> None:
    """Write JSON to a temporary file beside ``path``, flush it to disk, then replace ``path``
    with it. NaN and infinity are refused (ValueError): they are not JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, sort_keys=True, allow_nan=False)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes files private; these are shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def record(chapter: str, **metrics: float) -> None:
    """Record a chapter's figures: print them beside their targets and hand them to the runner.

    Args:
        chapter: the notebook's file stem, such as ``"02_mlp"``; it must name a notebook of the
            course (when the course's repository is in sight).
        **metrics: named numbers, such as ``test_accuracy=0.9012, training_seconds=48.3``.
            Figures recorded earlier in the same run are kept unless recorded again. NaN and
            infinity are printed, flagged and stored as ``null``.

    Under the runner, the figures are filed under the notebook the runner runs; a different
    ``chapter`` is noted in the file and flagged in the runner's table. The runner measures
    ``wall_seconds`` itself; targets for figures not recorded here are checked in the runner's
    table, not in the notebook.

    Raises:
        ValueError: a malformed or unknown chapter name, no figures, or a figure that is not a number.
    """
    _check_name(chapter)
    if not metrics:
        raise ValueError("record() needs at least one figure, such as record('02_mlp', test_accuracy=0.9).")
    clean = {}
    for name, value in metrics.items():
        if name.startswith("_"):
            raise ValueError(f"Figure names may not start with '_' (kept for the results file's notes): {name!r}.")
        try:
            clean[name] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"Figure {name!r} must be a number, got {value!r}.") from None
    running = os.environ.get(NOTEBOOK_VARIABLE) or chapter
    notes = []
    if running != chapter:
        notes.append(f"record() was called with {chapter!r} in notebook {running}; its figures are kept under "
                     f"{running}. Change the call to record({running!r}, ...).")
    else:
        _check_known(chapter)
    factor, tolerance = factor_from_environment()
    print(format_rows(evaluate(running, clean, include_missing=False, factor=factor, tolerance=tolerance)))
    for note in notes:
        print(f"Note: {note}")
    directory = os.environ.get(RESULTS_DIR_VARIABLE)
    if directory:
        path = Path(directory) / f"{running}.json"
        stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        not_finite = {**stored.get("_not_finite", {}),
                      **{name: repr(value) for name, value in clean.items() if not math.isfinite(value)}}
        for name in clean:
            if math.isfinite(clean[name]):
                not_finite.pop(name, None)
        merged = {**stored, **{name: value if math.isfinite(value) else None for name, value in clean.items()}}
        merged.pop("_not_finite", None)
        if not_finite:
            merged["_not_finite"] = not_finite
        if notes:
            merged["_notes"] = sorted(set(stored.get("_notes", [])) | set(notes))
        write_json_atomically(path, merged)
