"""The course runner: execute chapters headless, in order, and report their figures.

    python -m course_lib.run                      # every chapter, into build/
    python -m course_lib.run --chapters 01 mlp    # some chapters
    python -m course_lib.run --solutions          # chapters and solutions notebooks
    python -m course_lib.run --refresh            # maintainers: rewrite committed outputs

Executed copies go to ``build/notebooks/``; the committed notebooks are left as they are,
except with ``--refresh``, which writes each executed notebook back in place (through a
temporary file, and only when every cell succeeded). Each notebook runs in a fresh kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from course_lib import notebooks as nb_tools
from course_lib import results


class ChapterFailed(RuntimeError):
    """A cell raised: carries the chapter, the cell number and the traceback."""


def _progress(stem: str, index: int, total: int, started: float) -> None:
    if sys.stdout.isatty():
        print(f"\r    {stem}: cell {index}/{total} · {time.perf_counter() - started:5.0f} s", end="", flush=True)


def execute(path: Path, destination: Path, failed_copy: Path, results_dir: Path, cell_timeout: int) -> float:
    """Run one notebook in a fresh kernel (working directory: the folder of ``destination``) and
    write the executed copy to ``destination`` atomically. Returns the wall seconds.

    Raises:
        ChapterFailed: a cell raised or timed out; the cells run so far are saved to
            ``failed_copy`` (in the build folder) for inspection, and ``destination`` is untouched.
    """
    notebook = nbformat.read(path, as_version=4)
    code_cells = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    started = time.perf_counter()
    client = NotebookClient(
        notebook, timeout=cell_timeout, kernel_name="python3",
        resources={"metadata": {"path": str(destination.parent)}},
        on_cell_executed=lambda cell, cell_index, execute_reply: _progress(
            path.stem, code_cells.index(cell_index) + 1, len(code_cells), started),
    )
    os.environ[results.RESULTS_DIR_VARIABLE] = str(results_dir)
    try:
        # The kernel's own stderr (ZeroMQ notices) would clutter the progress lines; cell
        # output, errors included, arrives through Jupyter's messages, not this stream.
        client.execute(stderr=subprocess.DEVNULL)
    except (CellExecutionError, CellTimeoutError) as error:
        failed_at = next((n for n, i in enumerate(code_cells, 1)
                          if notebook.cells[i].get("execution_count") is None or any(
                              o.get("output_type") == "error" for o in notebook.cells[i].get("outputs", []))), None)
        nb_tools.write_atomically(nb_tools.normalise(notebook), failed_copy)
        raise ChapterFailed(f"{path.stem}: code cell {failed_at} of {len(code_cells)} failed "
                            f"(cells run so far: {failed_copy}).\n{error}") from None
    finally:
        if sys.stdout.isatty():
            print("\r" + " " * 60 + "\r", end="")
    seconds = time.perf_counter() - started
    nb_tools.write_atomically(nb_tools.normalise(notebook), destination)
    return seconds


def run(names: list[str] | None, solutions: bool, refresh: bool, build_dir: Path | None, cell_timeout: int,
        root: Path | None = None) -> list[results.Row]:
    """Execute the chosen notebooks and return the rows of the results table."""
    root = root or nb_tools.find_root()
    build_dir = (build_dir or root / "build").resolve()
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
    results_dir = build_dir / "results"
    rows: list[results.Row] = []
    summary = {}
    total_started = time.perf_counter()
    for number, path in enumerate(chosen, 1):
        relative = path.relative_to(root)
        stored = results_dir / f"{path.stem}.json"
        stored.unlink(missing_ok=True)
        print(f"[{number}/{len(chosen)}] {path.stem} ... (elapsed {time.perf_counter() - total_started:.0f} s)", flush=True)
        destination = path if refresh else build_dir / relative
        if not refresh:  # the copy runs beside its siblings, in the build folder
            destination.parent.mkdir(parents=True, exist_ok=True)
        failed_copy = (build_dir / relative).with_suffix(".failed.ipynb")
        seconds = execute(path, destination, failed_copy, results_dir, cell_timeout)
        metrics = json.loads(stored.read_text(encoding="utf-8")) if stored.exists() else {}
        metrics["wall_seconds"] = round(seconds, 1)
        results.write_json_atomically(stored, metrics)
        chapter_rows = results.evaluate(path.stem, metrics)
        rows += chapter_rows
        summary[path.stem] = {"metrics": metrics, "targets": {r.metric: {"target": r.target, "met": r.met}
                                                              for r in chapter_rows if r.target}}
        print(f"    done in {seconds:.1f} s" + (f", written back to {relative}" if refresh else ""), flush=True)
    results.write_json_atomically(build_dir / "results.json", summary)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapters", nargs="+", metavar="NAME",
                        help="chapters to run: a file stem (02_mlp), a number (02) or a topic (mlp)")
    parser.add_argument("--solutions", action="store_true", help="also run the solutions notebooks")
    parser.add_argument("--refresh", action="store_true",
                        help="maintainers: write executed outputs back into the committed notebooks")
    parser.add_argument("--build-dir", type=Path, help="where executed copies and results go (default: build/)")
    parser.add_argument("--cell-timeout", type=int, default=900, help="seconds one cell may run (default: 900)")
    parser.add_argument("--list", action="store_true", help="list the chapters and exit")
    parser.add_argument("--strict", action="store_true", help="exit with status 3 when a target is not met")
    arguments = parser.parse_args(argv)
    try:
        root = nb_tools.find_root()
        if arguments.list:
            print("\n".join(p.stem for p in nb_tools.list_notebooks(root, solutions=True)))
            return 0
        rows = run(arguments.chapters, arguments.solutions, arguments.refresh, arguments.build_dir,
                   arguments.cell_timeout, root)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ChapterFailed as error:
        print(f"\nFAILED {error}", file=sys.stderr)
        return 1
    print("\nResults (targets from course_lib/targets.toml; figures measured on this machine)\n")
    print(results.format_rows(rows, show_chapter=True))
    missed = [r for r in rows if r.met is False]
    print(f"\n{len(missed)} target(s) not met." if missed else "\nAll targets met.")
    return 3 if (missed and arguments.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
