"""Build the course as a static HTML book, offline, from the committed notebooks.

    python -m course_lib.book                   # into build/book/; open build/book/index.html
    python -m course_lib.book --output DIR      # somewhere else

The book is a jupyter-book 1.x (Sphinx) site: a home page (``book/intro.md``), the chapters
``notebooks/NN_*.ipynb`` in order, and their solutions as an appendix. The notebooks are not
executed again: the build reads their stored outputs, from cleaned copies (no stderr, no
TensorFlow log lines), each with a link to its source notebook. MathJax is copied into the site
from the ``mathjax`` package (PyPI ``django-static-mathjax``), so pages render with no network,
served or opened as local files.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shutil
import sys
import tempfile
import time
from html import escape as html_escape
from pathlib import Path

import nbformat

from course_lib import notebooks as nb_tools

ASSET_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
SOURCES_FOLDER = "_notebook_sources"  # originals for the download links; not pages themselves
SOURCE_LINK_TAG = "course-book-source-link"
# Copied into the site's _static/ by Sphinx (html_static_path in book/_config.yml). Not _static/
# itself: jupyter-book would add every .js file found there to every page.
VENDOR_FOLDER = "_vendor"

# TensorFlow's and absl's log lines, as they reach a notebook's output streams.
LOG_LINE = re.compile(
    r"^\s*(?:"
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "        # 2025-01-01 12:00:00.123: I tensorflow/...
    r"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ "                       # I0000 00:00:1700000000.1 123 file.cc:1]
    r"|WARNING: All log messages before absl::InitializeLog"
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|This TensorFlow binary is optimized"
    r"|.*(?:oneDNN custom operations are on|Unable to register cu(?:DNN|FFT|BLAS) factory"
    r"|Could not find cuda drivers|failed call to cuInit)"
    r")"
)

# The MathJax files the site needs: the combined TeX-to-HTML component, the TeX extensions it
# may autoload, its web fonts, and the menu and accessibility components it loads on demand.
MATHJAX_FILES = ("tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2", "ui", "a11y")


def clean_outputs(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop stderr streams and TensorFlow log lines from every code cell's outputs, in place.

    A stdout stream that held only log lines is dropped whole. Returns the notebook.

    Raises:
        ValueError: ``notebook`` is not an nbformat notebook (it has no ``cells``).
    """
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("clean_outputs() needs a notebook read with nbformat.read(); this object has no cells.")
    for cell in notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                if output.get("name") == "stderr":
                    continue
                text = output.get("text", "")
                text = "".join(line for line in text.splitlines(keepends=True) if not LOG_LINE.match(line))
                if not text.strip():
                    continue
                output["text"] = text
            kept.append(output)
        cell["outputs"] = kept
    return notebook


def add_source_link(notebook: nbformat.NotebookNode, source: str, download_target: str) -> nbformat.NotebookNode:
    """Insert, after the title cell, a line that links to the source notebook, in place.

    ``source`` is the path shown to the reader (``notebooks/02_mlp.ipynb``); ``download_target``
    is the file Sphinx offers for download, absolute from the book's root (``/_notebook_sources/...``).
    Calling it twice leaves one link. Returns the notebook.

    Raises:
        ValueError: the notebook has no cells, or a path is empty.
    """
    if not notebook.get("cells"):
        raise ValueError("add_source_link(): the notebook has no cells; a chapter needs at least its title.")
    if not source or not download_target:
        raise ValueError("add_source_link(): both source and download_target must be non-empty paths.")
    notebook.cells = [c for c in notebook.cells if SOURCE_LINK_TAG not in c.get("metadata", {}).get("tags", [])]
    text = (f"Source notebook: {{download}}`{source} <{download_target}>`. "
            f"Open it with `make lab` to run it yourself.")
    cell = nbformat.v4.new_markdown_cell(text, metadata={"tags": [SOURCE_LINK_TAG]})
    notebook.cells.insert(1, cell)
    return notebook


def find_notebooks(notebooks_dir: Path) -> tuple[list[Path], list[Path]]:
    """The chapters ``NN_*.ipynb`` and the solutions ``solutions/NN_*_solutions.ipynb``, each sorted;
    names with a dot before the suffix (``02_mlp.failed.ipynb``, the runner's leftovers) are skipped.

    Raises:
        FileNotFoundError: ``notebooks_dir`` is not a folder, or holds no chapter.
    """
    notebooks_dir = Path(notebooks_dir)
    if not notebooks_dir.is_dir():
        raise FileNotFoundError(f"{notebooks_dir} is not a folder. Pass the course's notebooks/ folder.")
    chapters = nb_tools.notebooks_in(notebooks_dir)
    if not chapters:
        raise FileNotFoundError(f"{notebooks_dir} holds no chapter named like NN_topic.ipynb; nothing to build.")
    solutions = nb_tools.notebooks_in(notebooks_dir, solutions=True)[len(chapters):]
    return chapters, solutions


def make_toc(chapters: list[str], solutions: list[str], root: str = "intro") -> dict:
    """The jupyter-book table of contents (``_toc.yml`` as a dict): the home page, the chapters,
    then the solutions as an appendix. Entries are paths without suffix, relative to the book.

    Raises:
        ValueError: no chapters, a duplicate entry, or an entry with a suffix or a leading ``/``.
    """
    if not chapters:
        raise ValueError("make_toc() needs at least one chapter.")
    entries = [root, *chapters, *solutions]
    for entry in entries:
        if not entry or entry.startswith("/") or Path(entry).suffix in (".ipynb", ".md"):
            raise ValueError(f"make_toc(): bad entry {entry!r}; give a relative path without its suffix.")
    if len(set(entries)) != len(entries):
        raise ValueError(f"make_toc(): duplicate entries in {entries}.")
    parts = [{"caption": "Chapters", "chapters": [{"file": c} for c in chapters]}]
    if solutions:
        parts.append({"caption": "Appendix: solutions", "chapters": [{"file": s} for s in solutions]})
    return {"format": "jb-book", "root": root, "parts": parts}


def find_mathjax() -> Path:
    """The folder of MathJax 3's browser build (``es5/``) from the installed ``mathjax`` package.

    Raises:
        FileNotFoundError: the package is missing; the message says how to install it.
    """
    try:
        import mathjax
    except ImportError:
        mathjax = None
    folder = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" if mathjax else None
    if folder is None or not (folder / "tex-chtml.js").is_file():
        raise FileNotFoundError("MathJax is not installed: the book serves its own copy. "
                                "Run `pip install -r requirements.txt` (package django-static-mathjax).")
    return folder


def copy_mathjax(destination: Path, source: Path | None = None) -> Path:
    """Copy the MathJax files the book uses (and MathJax's licence) into ``destination``.

    Returns ``destination``. Raises FileNotFoundError when a needed file is missing from ``source``.
    """
    source = Path(source) if source else find_mathjax()
    destination = Path(destination)
    for name in MATHJAX_FILES:
        if not (source / name).exists():
            raise FileNotFoundError(f"{source / name} is missing; reinstall django-static-mathjax.")
        if (source / name).is_dir():
            shutil.copytree(source / name, destination / name, dirs_exist_ok=True)
        else:
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, destination / name)
    licence = source.parent / "LICENSE"
    if licence.is_file():
        shutil.copy2(licence, destination / "LICENSE")
    return destination


def stage(notebooks_dir: Path, book_dir: Path, staging: Path) -> dict:
    """Lay out the book's sources in ``staging``: ``book_dir``'s files, cleaned copies of the
    notebooks under ``notebooks/``, their originals under ``_notebook_sources/``, images the
    notebooks reference, MathJax under ``_vendor/mathjax/`` and a generated ``_toc.yml``.
    Returns the table of contents.

    Raises:
        FileNotFoundError: a folder or ``book_dir/_config.yml`` is missing, or there are no chapters.
        ValueError: a notebook cannot be read.
    """
    import yaml

    notebooks_dir, book_dir, staging = Path(notebooks_dir), Path(book_dir), Path(staging)
    if not (book_dir / "_config.yml").is_file():
        raise FileNotFoundError(f"{book_dir / '_config.yml'} is missing; the book's settings live there.")
    chapters, solutions = find_notebooks(notebooks_dir)
    shutil.copytree(book_dir, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns("_build", "_toc.yml"))
    for path in sorted(notebooks_dir.rglob("*")):
        relative = path.relative_to(notebooks_dir)
        if path.suffix.lower() in ASSET_SUFFIXES and ".ipynb_checkpoints" not in relative.parts:
            (staging / "notebooks" / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, staging / "notebooks" / relative)
    for path in chapters + solutions:
        relative = path.relative_to(notebooks_dir)
        try:
            notebook = nbformat.read(path, as_version=4)
        except Exception as error:  # nbformat raises several types for a broken file
            raise ValueError(f"{path} is not a readable notebook ({error}). Fix or remove it.") from None
        if not notebook.get("cells"):
            raise ValueError(f"{path} has no cells; a chapter needs at least its title cell. Fix or remove it.")
        original = staging / SOURCES_FOLDER / "notebooks" / relative
        original.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, original)
        clean_outputs(notebook)
        # The stored metadata is normalised down to the language's name; Pygments needs its lexer.
        notebook.metadata.setdefault("language_info", {}).setdefault("pygments_lexer", "ipython3")
        add_source_link(notebook, f"notebooks/{relative.as_posix()}",
                        f"/{SOURCES_FOLDER}/notebooks/{relative.as_posix()}")
        nb_tools.write_atomically(notebook, staging / "notebooks" / relative)
    toc = make_toc([f"notebooks/{p.relative_to(notebooks_dir).with_suffix('').as_posix()}" for p in chapters],
                   [f"notebooks/{p.relative_to(notebooks_dir).with_suffix('').as_posix()}" for p in solutions])
    (staging / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    copy_mathjax(staging / VENDOR_FOLDER / "mathjax")
    return toc


def front_door(root: str, title: str) -> str:
    """``index.html``: forwards to the home page ``root``.html, with a link for browsers that do
    not follow, and the favicon (without it a browser asks the server for /favicon.ico)."""
    if not root or root.startswith("/") or Path(root).suffix:
        raise ValueError(f"front_door(): bad home page {root!r}; give a relative path without its suffix.")
    escaped = html_escape(title)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escaped}</title>\n'
            f'<link rel="icon" href="_static/favicon.svg">\n'
            f'<meta http-equiv="refresh" content="0; url={root}.html">\n</head>\n'
            f'<body>\n<p><a href="{root}.html">Open {escaped}</a></p>\n</body>\n</html>\n')


def _title(config: Path) -> str:
    import yaml

    return str((yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("title") or "the book")


def build(notebooks_dir: Path, output: Path, book_dir: Path, quiet: bool = True) -> Path:
    """Stage and build the book into ``output`` (replaced whole); returns ``output/index.html``.

    Nothing is executed and nothing is fetched. Sphinx's warnings (broken links, say) go to
    stderr; the build fails only on errors.

    Raises:
        FileNotFoundError, ValueError: see ``stage``; ValueError too when ``output`` holds
            something other than a book built here (it is never deleted).
        RuntimeError: Sphinx failed; the message carries its error.
    """
    from jupyter_book.sphinx import build_sphinx

    output = Path(output).resolve()
    if output.exists() and not (output / ".course-book").exists() and any(output.iterdir()):
        raise ValueError(f"{output} exists and is not a book built here; choose an empty or new folder.")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="course-book-") as work:
        staging, html = Path(work) / "source", Path(work) / "html"
        toc = stage(notebooks_dir, book_dir, staging)
        log = io.StringIO()
        with contextlib.redirect_stdout(log) if quiet else contextlib.nullcontext():
            status = build_sphinx(staging, html, path_config=str(staging / "_config.yml"),
                                  doctreedir=Path(work) / "doctrees", freshenv=True, quiet=quiet,
                                  noconfig=True, confoverrides={"latex_individualpages": False,
                                                                "external_toc_path": str(staging / "_toc.yml")})
        if status != 0:
            raise RuntimeError(f"The book did not build: {status}\n{log.getvalue()[-2000:]}")
        (html / ".course-book").write_text("built by python -m course_lib.book\n", encoding="utf-8")
        (html / "index.html").write_text(front_door(toc["root"], _title(staging / "_config.yml")), encoding="utf-8")
        (html / ".buildinfo").unlink(missing_ok=True)
        if output.exists():
            shutil.rmtree(output)
        shutil.move(str(html), output)
    return output / "index.html"


def setup(app) -> dict:
    """Sphinx extension hook (``extra_extensions: [course_lib.book]`` in book/_config.yml).

    jupyter-book always loads sphinx-thebe, whose live-code scripts point at a CDN and, under
    Sphinx 7, land twice on every page (a console error); the book has no live code, so its
    handler is disconnected here.
    """
    for listener in list(app.events.listeners.get("env-before-read-docs", [])):
        handler = listener.handler
        if getattr(handler, "__module__", "") == "sphinx_thebe" and handler.__name__ == "init_thebe_core":
            app.disconnect(listener.id)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.book", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, help="where the HTML goes (default: build/book/)")
    parser.add_argument("--notebooks", type=Path, help="the notebooks to read (default: notebooks/)")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        root = nb_tools.find_root()
        index = build(arguments.notebooks or root / "notebooks", arguments.output or root / "build" / "book",
                      root / "book", quiet=not arguments.verbose)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    shown = index.relative_to(Path.cwd()) if index.is_relative_to(Path.cwd()) else index
    print(f"Book built in {time.perf_counter() - started:.0f} s: open {shown} in a browser (no network needed).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
