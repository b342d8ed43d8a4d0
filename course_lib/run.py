"""The course runner: execute chapters headless, in order, and report their figures.

    python -m course_lib.run                      # every chapter, into build/
    python -m course_lib.run --chapters 01 mlp    # some chapters
    python -m course_lib.run --solutions          # chapters and solutions notebooks
    python -m course_lib.run --refresh            # maintainers: rewrite committed outputs

Executed copies go to ``build/notebooks/``; the committed notebooks are left as they are,
except with ``--refresh``, which writes each executed notebook back in place (through a
temporary file, and only when every cell succeeded). Each notebook runs in a fresh kernel.

Before anything runs, the runner checks what would otherwise fail late: the targets file, every
chosen notebook, and a build folder that is writable and outside ``notebooks/``. Each chapter's
figures are filed under the notebook that ran (``build/results/<notebook>.json``), and
``build/results.json`` keeps the chapters of earlier runs, marked ``"this_run": false``.

Before the first chapter, the runner measures this machine's speed (:mod:`course_lib.calibrate`,
about 15 s) and judges time targets against the reference machine's: a bound of 60 s becomes
60 s x this machine's slowdown (x the calibration's tolerance). ``--no-calibrate`` skips the
measurement and judges every bound as written.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async

from course_lib import calibrate, data, results
from course_lib import notebooks as nb_tools

ANSI_CODE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


class ChapterFailed(RuntimeError):
    """A cell raised or timed out, or the kernel died: carries the chapter, the cell number and
    the traceback."""


class RunInterrupted(RuntimeError):
    """The learner pressed Ctrl-C: carries where the run stopped and what was saved."""

    def __init__(self, message: str, failed_copy: Path | None = None):
        super().__init__(message)
        self.failed_copy = failed_copy


class _StopBeforeCell(Exception):
    """Raised from a cell hook after Ctrl-C, when the kernel was idle and did not see it."""


def plain(text: str, stream=None) -> str:
    """``text`` without ANSI colour codes, unless ``stream`` is a terminal (and NO_COLOR is unset)."""
    stream = stream or sys.stderr
    keep = hasattr(stream, "isatty") and stream.isatty() and not os.environ.get("NO_COLOR")
    return text if keep else ANSI_CODE.sub("", text)


def _progress(stem: str, index: int, total: int, started: float) -> None:
    if sys.stdout.isatty():
        print(f"\r    {stem}: cell {index}/{total} · {time.perf_counter() - started:5.0f} s", end="", flush=True)


def _write(notebook: nbformat.NotebookNode, path: Path, what: str = "") -> None:
    """Write a notebook atomically; a disk error becomes a ValueError that names the path."""
    try:
        nb_tools.write_atomically(nb_tools.normalise(notebook), path)
    except OSError as error:
        raise ValueError(f"Could not write {path} ({error.strerror or error}){what}. Free some disk space, "
                         f"or choose a writable folder with --build-dir.") from None


def _clear_cells_after(notebook: nbformat.NotebookNode, code_cells: list[int], failed: int | None) -> None:
    """Empty the outputs and execution counts of the code cells after ``failed`` (all of them when
    ``None``): they did not run, and their committed outputs must not look as if they had."""
    for index in code_cells:
        if failed is None or index > failed:
            notebook.cells[index].outputs = []
            notebook.cells[index].execution_count = None


class _Client(NotebookClient):
    """nbclient's client, with Ctrl-C handled as JupyterLab's stop button does.

    nbclient answers SIGINT by killing the kernel mid-cell, which surfaces as a dead kernel, an
    AssertionError and "Task exception was never retrieved". Here the first Ctrl-C interrupts
    the running cell (KeyboardInterrupt in the kernel, a clean cell error) and the second
    stops the kernel; ``interrupted`` records that it happened.
    """

    interrupted = False
    running_cells = False  # before the first cell, the kernel is starting: a signal would kill it

    def _on_interrupt(self) -> None:
        if self.interrupted:  # a second Ctrl-C: stop the kernel now, as nbclient would
            asyncio.ensure_future(self._async_cleanup_kernel())
            atexit.unregister(self._cleanup_kernel)
            return
        self.interrupted = True
        if self.running_cells:
            asyncio.ensure_future(self._interrupt())

    async def _interrupt(self) -> None:
        with contextlib.suppress(Exception):  # no kernel yet, or gone already: the next cell stops instead
            await ensure_async(self.km.interrupt_kernel())

    async def async_start_new_kernel(self, **kwargs) -> None:
        # Called by async_setup_kernel right after it adds its own SIGINT handler: replace it.
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, or not the main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._on_interrupt)
        await super().async_start_new_kernel(**kwargs)


def execute(path: Path, destination: Path, failed_copy: Path, results_dir: Path, cell_timeout: int,
            notebook: nbformat.NotebookNode | None = None) -> float:
    """Run one notebook in a fresh kernel (working directory: the folder of ``destination``) and
    write the executed copy to ``destination`` atomically. Returns the wall seconds.

    Raises:
        ChapterFailed: a cell raised or timed out, or the kernel died; the cells run so far are
            saved to ``failed_copy`` (in the build folder) for inspection, with the cells that
            did not run cleared, and ``destination`` is untouched.
        RunInterrupted: Ctrl-C; the same copy is saved and ``destination`` is untouched.
        ValueError: the notebook cannot be read, or a file cannot be written (naming it).
    """
    notebook = notebook if notebook is not None else nb_tools.read_notebook(path)
    code_cells = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    started = time.perf_counter()
    state: dict = {"current": None}

    def on_cell_start(cell, cell_index):
        if client.interrupted:
            raise _StopBeforeCell()
        if cell.cell_type == "code":
            state["current"] = cell_index
            client.running_cells = True

    client = _Client(
        notebook, timeout=cell_timeout, kernel_name="python3",
        resources={"metadata": {"path": str(destination.parent)}},
        on_cell_start=on_cell_start,
        on_cell_executed=lambda cell, cell_index, execute_reply: _progress(
            path.stem, code_cells.index(cell_index) + 1, len(code_cells), started),
    )

    def where() -> str:
        if state["current"] is None:
            return "the kernel's start"
        return f"code cell {code_cells.index(state['current']) + 1} of {len(code_cells)}"

    def save_failed_copy(interrupted: bool = False) -> str:
        _clear_cells_after(notebook, code_cells, state["current"])
        try:
            _write(notebook, failed_copy)
        except ValueError as error:
            return f"(the cells run so far could not be saved: {error})"
        if interrupted:
            return f"Saved: the cells run so far, in {failed_copy}"
        return f"(cells run so far: {failed_copy})"

    saved_environment = {name: os.environ.get(name) for name in (results.RESULTS_DIR_VARIABLE,
                                                                 results.NOTEBOOK_VARIABLE)}
    os.environ[results.RESULTS_DIR_VARIABLE] = str(results_dir)
    os.environ[results.NOTEBOOK_VARIABLE] = path.stem
    try:
        # The kernel's own stderr (ZeroMQ notices) would clutter the progress lines; cell
        # output, errors included, arrives through Jupyter's messages, not this stream.
        client.execute(stderr=subprocess.DEVNULL)
    except (CellExecutionError, _StopBeforeCell, KeyboardInterrupt, DeadKernelError, AssertionError,
            RuntimeError) as error:
        # nbclient reports a kernel stopped by a second Ctrl-C as a dead kernel or an AssertionError
        if client.interrupted or isinstance(error, KeyboardInterrupt):
            saved = save_failed_copy(interrupted=True)
            raise RunInterrupted(f"{path.stem} stopped at {where()}. {saved}", failed_copy) from None
        if isinstance(error, (DeadKernelError, AssertionError, RuntimeError)):
            message = f"{path.stem}: the kernel died during {where()}"
            saved = save_failed_copy()
            raise ChapterFailed(f"{message} {saved}.\nA kernel dies when it runs out of memory or crashes in "
                                f"native code; close other programs and run the chapter again.") from None
        message = f"{path.stem}: {where()} failed"
        saved = save_failed_copy()
        raise ChapterFailed(f"{message} {saved}.\n{error}") from None
    except CellTimeoutError:
        message = f"{path.stem}: {where()} timed out after {cell_timeout} s"
        if state["current"] is not None:
            notebook.cells[state["current"]].outputs.append(nbformat.v4.new_output(
                "stream", name="stderr", text=f"Stopped by the runner after {cell_timeout} s (--cell-timeout).\n"))
        saved = save_failed_copy()
        raise ChapterFailed(f"{message} {saved}.\nIf the cell is only slow, allow it more time with "
                            f"--cell-timeout SECONDS (now {cell_timeout}).") from None
    finally:
        atexit.unregister(client._cleanup_kernel)  # nbclient's own; it fails once the kernel is gone
        for name, value in saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if sys.stdout.isatty():
            print("\r" + " " * 60 + "\r", end="")
    seconds = time.perf_counter() - started
    _write(notebook, destination, "; the executed copy was not saved" if destination == path else "")
    return seconds


def check_build_dir(build_dir: Path, root: Path) -> Path:
    """Refuse a build folder that is the repository root or inside ``notebooks/`` (executed
    copies would overwrite or mix with the committed notebooks), a file, or not writable.
    Makes the folder. Returns it, resolved.

    Raises:
        ValueError: what is wrong with the folder and what to choose instead.
    """
    resolved, notebooks_dir = Path(build_dir).resolve(), (root / "notebooks").resolve()
    if resolved == root.resolve() or resolved == notebooks_dir or notebooks_dir in resolved.parents:
        place = "is the repository's root" if resolved == root.resolve() else "is inside notebooks/"
        raise ValueError(
            f"--build-dir {build_dir} {place}: the executed copies would overwrite or mix with the committed "
            f"notebooks (and leave results files among them). Choose a folder outside notebooks/, such as the "
            f"default build/."
        )
    if resolved.exists() and not resolved.is_dir():
        raise ValueError(f"--build-dir {build_dir} is a file, not a folder. Give a folder (it is made if missing).")
    try:
        resolved.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=resolved, prefix=".write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise ValueError(f"The build folder {resolved} is not writable ({error.strerror or error}). "
                         f"Choose another with --build-dir, or fix its permissions.") from None
    return resolved


def _absolute_data_dir() -> None:
    """A relative COURSE_DATA_DIR means: from where the runner was started (kernels run elsewhere)."""
    value = os.environ.get(data.DATA_DIR_VARIABLE)
    if value and not Path(value).expanduser().is_absolute():
        os.environ[data.DATA_DIR_VARIABLE] = os.path.abspath(Path(value).expanduser())


def _merge_summary(path: Path, summary: dict) -> None:
    """Write this run's chapters into ``results.json``, keeping earlier runs' other chapters."""
    previous = {}
    if path.exists():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}
    merged = {stem: {**entry, "this_run": False} for stem, entry in previous.items()
              if isinstance(entry, dict) and stem not in summary}
    merged.update({stem: {**entry, "this_run": True} for stem, entry in summary.items()})
    results.write_json_atomically(path, merged)


def _finite_or_none(metrics: dict[str, float]) -> dict[str, float | None]:
    return {name: value if value == value and abs(value) != float("inf") else None for name, value in metrics.items()}


def measure_factor() -> tuple[float, calibrate.Reference]:
    """Measure this machine (in a fresh process) against the reference file and print the result.
    Returns the slowdown factor and the reference.

    Raises:
        FileNotFoundError, ValueError: the reference file is missing or malformed (named), or the
            measurement failed; each message says to use --no-calibrate to go on without it.
    """
    reference = calibrate.load_reference()  # before the measurement: a missing file fails fast
    print("Calibrating: a short CNN and Transformer workload, to judge time targets on this machine's speed ...",
          flush=True)
    try:
        measured = calibrate.run_measurement()
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    factor = calibrate.slowdown(measured.score, reference)
    print(f"    {calibrate.describe(factor)}, measured in {measured.seconds:.0f} s.\n"
          f"    Reference: {reference.machine}", flush=True)
    return factor, reference


def run(names: list[str] | None, solutions: bool, refresh: bool, build_dir: Path | None, cell_timeout: int,
        root: Path | None = None, calibrated: bool = True) -> list[results.Row]:
    """Execute the chosen notebooks and return the rows of the results table. With
    ``calibrated`` (the default), time targets are judged against this machine's speed, measured
    before the first chapter (:func:`measure_factor`); without, as written.

    Raises:
        ValueError: a bad argument, targets file, notebook or build folder, found before any
            notebook runs; a calibration that failed; or a file that cannot be written, naming it.
        FileNotFoundError: the calibration reference is missing.
        ChapterFailed, RunInterrupted: see :func:`execute`.
    """
    if isinstance(cell_timeout, bool) or not isinstance(cell_timeout, int) or cell_timeout <= 0:
        raise ValueError(f"cell_timeout (--cell-timeout) must be a positive number of seconds, got {cell_timeout!r}.")
    root = (root or nb_tools.find_root()).resolve()
    build_dir = Path(build_dir) if build_dir else root / "build"
    targets = results.load_targets()
    available = nb_tools.list_notebooks(root, solutions=True)
    if names:
        chosen = nb_tools.select(available, names)
        if solutions:  # --chapters 02 --solutions: the chapter and its solutions
            stems = {p.stem for p in chosen} | {f"{p.stem}_solutions" for p in chosen}
            chosen = [p for p in available if p.stem in stems]
    else:
        chosen = nb_tools.list_notebooks(root, solutions=solutions)
    if not chosen:
        raise ValueError(f"No notebooks found under {root / 'notebooks'}.")
    build_dir = check_build_dir(build_dir, root)
    loaded = {path: nb_tools.read_notebook(path) for path in chosen}
    for folder in (root / "notebooks", build_dir):
        for stale in nb_tools.remove_stale_temporaries(folder):
            print(f"Removed a stale temporary file left by an interrupted write: {stale}", flush=True)
    factor, tolerance = None, 0.0
    if calibrated:
        factor, reference = measure_factor()
        tolerance = reference.tolerance
    else:
        print("Not calibrated (--no-calibrate): time targets are judged as written, as on the reference machine.",
              flush=True)
    results_dir = build_dir / "results"
    rows: list[results.Row] = []
    summary: dict = {}
    finished: list[str] = []
    saved_data_dir = os.environ.get(data.DATA_DIR_VARIABLE)
    saved_factor = os.environ.pop(results.FACTOR_VARIABLE, None)
    if factor is not None:  # record() in a kernel prints the same scaled bounds as the table
        os.environ[results.FACTOR_VARIABLE] = f"{factor!r} {tolerance!r}"
    _absolute_data_dir()
    total_started = time.perf_counter()
    try:
        for number, path in enumerate(chosen, 1):
            relative = path.relative_to(root)
            stored = results_dir / f"{path.stem}.json"
            stored.unlink(missing_ok=True)
            print(f"[{number}/{len(chosen)}] {path.stem} ... (elapsed {time.perf_counter() - total_started:.0f} s)",
                  flush=True)
            destination = path if refresh else build_dir / relative
            if not refresh:  # the copy runs beside its siblings, in the build folder
                destination.parent.mkdir(parents=True, exist_ok=True)
            failed_copy = (build_dir / relative).with_suffix(".failed.ipynb")
            try:
                seconds = execute(path, destination, failed_copy, results_dir, cell_timeout, loaded[path])
            except RunInterrupted as interrupted:
                kept = f"; the results of the chapters finished before it, in {build_dir / 'results.json'}" \
                    if finished else ""
                done = (f"Apart from the {len(finished)} chapter(s) finished before it and written back with "
                        f"--refresh ({', '.join(finished)}), nothing committed changed" if refresh and finished
                        else "Nothing committed changed")
                raise RunInterrupted(f"Interrupted: {interrupted}{kept}.\n{done}: {relative} is as it was.") \
                    from None
            metrics, notes = results.read_recorded(stored)
            metrics["wall_seconds"] = round(seconds, 1)
            raw = json.loads(stored.read_text(encoding="utf-8")) if stored.exists() else {}
            results.write_json_atomically(stored, {**raw, "wall_seconds": metrics["wall_seconds"]})
            chapter_rows = results.evaluate(path.stem, metrics, targets, factor=factor, tolerance=tolerance)
            chapter_rows += [results.Row(path.stem, "record()", None, "", None, note) for note in notes]
            if path.stem not in targets:
                chapter_rows.append(results.Row(path.stem, "targets", None, "", None,
                                                f"none for {path.stem} in course_lib/targets.toml"))
            rows += chapter_rows
            summary[path.stem] = {"metrics": _finite_or_none(metrics),
                                  "targets": {r.metric: {"target": r.target, "met": r.met,
                                                         **({"scaled": r.scaled} if r.scaled else {})}
                                              for r in chapter_rows if r.target},
                                  "calibration_factor": factor,
                                  "notes": [f"{r.metric}: {r.note}" for r in chapter_rows if r.note]}
            _merge_summary(build_dir / "results.json", summary)
            finished.append(path.stem)
            print(f"    done in {seconds:.1f} s" + (f", written back to {relative}" if refresh else ""), flush=True)
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        raise ValueError(f"Could not write{where} ({error.strerror or error}). Free some disk space, or choose a "
                         f"writable folder with --build-dir.") from None
    finally:
        for name, saved in ((data.DATA_DIR_VARIABLE, saved_data_dir), (results.FACTOR_VARIABLE, saved_factor)):
            if saved is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = saved
    return rows


def _positive_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {value} (there is no "
                                         f"'no limit'); give a slow cell more time with a larger number, such as 1800")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapters", nargs="+", metavar="NAME",
                        help="chapters to run: a file stem (02_mlp), a number (02) or a topic (mlp)")
    parser.add_argument("--solutions", action="store_true", help="also run the solutions notebooks")
    parser.add_argument("--refresh", action="store_true",
                        help="maintainers: write executed outputs back into the committed notebooks")
    parser.add_argument("--build-dir", type=Path, help="where executed copies and results go (default: build/)")
    parser.add_argument("--cell-timeout", type=_positive_seconds, default=900,
                        help="seconds one cell may run (default: 900)")
    parser.add_argument("--list", action="store_true", help="list the chapters and exit")
    parser.add_argument("--strict", action="store_true", help="exit with status 3 when a target is not met")
    parser.add_argument("--no-calibrate", action="store_true",
                        help="maintainers: judge time targets as written, without measuring this machine's speed")
    arguments = parser.parse_args(argv)
    try:
        root = nb_tools.find_root()
        if arguments.list:
            print("\n".join(p.stem for p in nb_tools.list_notebooks(root, solutions=True)))
            return 0
        rows = run(arguments.chapters, arguments.solutions, arguments.refresh, arguments.build_dir,
                   arguments.cell_timeout, root, calibrated=not arguments.no_calibrate)
    except (ValueError, FileNotFoundError) as error:
        print(plain(f"error: {error}"), file=sys.stderr)
        return 2
    except ChapterFailed as error:
        print(plain(f"\nFAILED {error}"), file=sys.stderr)
        return 1
    except RunInterrupted as error:
        print(plain(f"\n{error}"), file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\nInterrupted. Chapters that finished are saved in the build folder; the committed notebooks "
              "are as they were, unless --refresh had written back a finished chapter.", file=sys.stderr)
        return 130
    scaled = next((r.factor for r in rows if r.factor is not None), None)
    print("\nResults (targets from course_lib/targets.toml; figures measured on this machine"
          + (f"; time targets x {scaled:.2f}, this machine's slowdown against the reference)\n" if scaled is not None
             else ")\n"))
    print(results.format_rows(rows, show_chapter=True))
    missed = [r for r in rows if r.met is False]
    flagged = [r for r in rows if r.note and r.met is not False]
    if not missed and not flagged:
        print("\nAll targets met.")
    else:
        print("\n" + "; ".join(part for part in (f"{len(missed)} target(s) not met" if missed else "",
                                                  f"{len(flagged)} row(s) flagged in the note column" if flagged
                                                  else "") if part) + ".")
    return 3 if ((missed or flagged) and arguments.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
