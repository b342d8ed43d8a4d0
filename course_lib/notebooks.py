"""Finding the course's notebooks by name and keeping their stored form tidy."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
KEPT_CELL_METADATA = ("tags",)
TEMPORARY_PATTERN = ".*.ipynb.tmp"  # what write_atomically leaves if it is killed mid-write (git-ignored)


def find_root(start: Path | None = None) -> Path:
    """The course repository: the nearest folder (from ``start`` upwards) holding
    ``notebooks/`` and ``course_lib/``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "course_lib").is_dir():
            return folder
    raise FileNotFoundError(f"{here} is not inside the course repository (no notebooks/ and course_lib/ above it). "
                            f"Run this command from the repository's folder.")


def notebooks_in(folder: Path, solutions: bool = False) -> list[Path]:
    """Chapters ``folder/NN_*.ipynb`` in order, then (if asked) ``folder/solutions/NN_*_solutions.ipynb``.
    Leftovers with a dot in the stem, such as ``02_mlp.failed.ipynb``, are left out."""
    def stems_only(paths):
        return sorted(p for p in paths if "." not in p.stem)

    chapters = stems_only(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if solutions:
        chapters += stems_only((Path(folder) / "solutions").glob("[0-9][0-9]_*_solutions.ipynb"))
    return chapters


def list_notebooks(root: Path, solutions: bool = False) -> list[Path]:
    """The course's notebooks under ``root/notebooks`` (see :func:`notebooks_in`)."""
    return notebooks_in(root / "notebooks", solutions)


def select(notebooks: list[Path], names: list[str]) -> list[Path]:
    """Pick notebooks by name: a full stem (``02_mlp``), its number (``02``) or its topic
    (``mlp``); ``02_mlp_solutions`` or ``02_solutions`` pick a solutions notebook.

    Raises:
        ValueError: a name matches no notebook, or more than one; the message lists the names.
    """
    chosen = []
    for name in names:
        key = name.strip().removesuffix(".ipynb")
        matches = [p for p in notebooks if key in (
            p.stem,
            p.stem.split("_", 1)[0] if not p.stem.endswith("_solutions") else p.stem.split("_", 1)[0] + "_solutions",
            p.stem.split("_", 1)[1] if "_" in p.stem else p.stem,
        )]
        if len(matches) != 1:
            known = ", ".join(p.stem for p in notebooks)
            problem = "matches no chapter" if not matches else "matches several chapters"
            raise ValueError(f"Chapter name {name!r} {problem}. Known chapters: {known}.")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return sorted(chosen, key=notebooks.index)


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook (nbformat 4).

    Raises:
        ValueError: the file is not JSON, does not follow the notebook format, or cannot be
            read; the message names the file and how to restore it.
    """
    path = Path(path)
    fix = f"Fix it in JupyterLab, or restore the committed copy with `git checkout {path.name}` in its folder."
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}), so it is not a readable notebook. {fix}") from None
    except nbformat.ValidationError as error:
        reason = str(error).split("\n", 1)[0]
        raise ValueError(f"{path} does not follow the notebook format ({reason}). {fix}") from None
    except OSError as error:
        raise ValueError(f"Cannot read {path} ({error.strerror or error}).") from None
    except Exception as error:  # nbformat raises several other types for a damaged file
        raise ValueError(f"{path} is not a readable notebook ({type(error).__name__}: {error}). {fix}") from None
    return notebook


def normalise(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip what changes from machine to machine but keep outputs and execution counts:
    notebook metadata reduced to the kernel spec, cell metadata to tags."""
    notebook.metadata = nbformat.from_dict({"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    for cell in notebook.cells:
        cell.metadata = nbformat.from_dict({k: v for k, v in cell.metadata.items() if k in KEPT_CELL_METADATA})
        if cell.cell_type == "code":
            for output in cell.outputs:
                if "metadata" in output and output.output_type != "stream":
                    output.metadata = nbformat.from_dict({})
    return notebook


def write_atomically(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Write a notebook to a temporary file beside ``path``, flush it to disk, then replace
    ``path``: a failure never leaves a half-written notebook. A process killed mid-write leaves
    ``.NAME.*.ipynb.tmp`` (git-ignored), which :func:`remove_stale_temporaries` cleans."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".ipynb.tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            nbformat.write(notebook, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes files private; these are shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: Path, older_than: float = 300.0) -> list[Path]:
    """Delete the temporary files that :func:`write_atomically` left under ``folder`` when it
    was killed, if not touched for ``older_than`` seconds (a write in progress is seconds old).
    Returns the files removed."""
    removed = []
    if not Path(folder).is_dir():
        return removed
    for path in sorted(Path(folder).rglob(TEMPORARY_PATTERN)):
        try:
            if path.is_file() and time.time() - path.stat().st_mtime > older_than:
                path.unlink()
                removed.append(path)
        except OSError:  # gone already, or not ours to delete: leave it
            continue
    return removed
