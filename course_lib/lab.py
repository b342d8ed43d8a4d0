"""Open JupyterLab on the learner's own working copy of the notebooks.

    python -m course_lib.lab            # make work/ on first use, then start JupyterLab there
    python -m course_lib.lab --prepare  # only make (or top up) work/, do not start JupyterLab

``work/`` is git-ignored: edits and saved outputs there never conflict with ``git pull``.
Notebooks already in ``work/`` are never overwritten; new chapters that arrive with a pull are
copied in beside them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from course_lib import notebooks as nb_tools


def prepare_working_copy(root: Path, work_dir: Path | None = None) -> tuple[Path, list[Path]]:
    """Copy the course's notebooks (the chapters and their solutions, as the runner lists them)
    into ``work/`` unless a copy is already there. Anything else under ``notebooks/``, such as
    executed or failed copies from a build folder made there, is not copied.

    Returns:
        The working folder and the notebooks newly copied into it.

    Raises:
        FileExistsError: ``work/`` (or a folder inside it) is a file; the message says what to do.
    """
    source = root / "notebooks"
    work_dir = work_dir or root / "work"
    copied = []
    for path in nb_tools.notebooks_in(source, solutions=True):
        target = work_dir / path.relative_to(source)
        if target.exists():
            continue
        inside = [work_dir / part for part in reversed(target.relative_to(work_dir).parents[:-1])]
        for folder in (work_dir, *inside):
            if folder.exists() and not folder.is_dir():
                raise FileExistsError(f"{folder} is a file, not a folder, so the working copy cannot go there. "
                                      f"Rename or move that file, then run `make lab` again.")
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(path, temporary)
        os.replace(temporary, target)
        copied.append(target)
    return work_dir, copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepare", action="store_true", help="only make the working copy")
    arguments, lab_arguments = parser.parse_known_args(argv)
    try:
        root = nb_tools.find_root()
        work_dir, copied = prepare_working_copy(root)
    except OSError as error:  # not in the repository, work/ is a file, a full disk
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Working copy: {work_dir} ({len(copied)} new notebook(s) copied; existing ones left as they are)")
    if arguments.prepare:
        return 0
    command = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={work_dir}", *lab_arguments]
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
