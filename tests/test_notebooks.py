"""Lint every notebook against the house style (../shared/STYLE.md, summarised in README):
skeleton, setup call, clean stored outputs, execution order, size and tidy metadata."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest

from course_lib import notebooks as nb_tools

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = nb_tools.list_notebooks(ROOT)
SOLUTIONS = [p for p in nb_tools.list_notebooks(ROOT, solutions=True) if p not in CHAPTERS]
ALL = CHAPTERS + SOLUTIONS
MAX_BYTES = 1_500_000
NOISE = re.compile(
    r"(I0000|W0000|E0000|absl::InitializeLog|cuda drivers|cuInit|oneDNN custom operations|"
    r"\d+/\d+ \[=*>?\.*\]|\d+/\d+ ━|━+ \d+s \d+m?s/step|Warning:|WARNING|DeprecationWarning|UserWarning|RuntimeWarning|FutureWarning|"
    r"Traceback \(most recent call last\))"
)


def headings(notebook, level: int) -> list[str]:
    found = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            found += [line[level + 1:].strip() for line in cell.source.splitlines() if line.startswith("#" * level + " ")]
    return found


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


@pytest.fixture(params=ALL, ids=lambda p: p.stem)
def notebook_path(request) -> Path:
    return request.param


def test_there_are_notebooks():
    assert (ROOT / "notebooks" / "00_start_here.ipynb") in CHAPTERS


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_skeleton(path):
    notebook = nbformat.read(path, as_version=4)
    number = path.stem.split("_", 1)[0]
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and re.match(rf"# {number} · [A-Z]", first.source), \
        f"{path.name}: the first cell must be the title '# {number} · Title'"
    sections = headings(notebook, 2)
    required = ["Objectives", "Setup", "Summary"] + (["Exercises"] if number != "00" else [])
    for name in required:
        assert name in sections, f"{path.name}: missing the '## {name}' section"
    positions = [sections.index(name) for name in required]
    assert positions == sorted(positions), f"{path.name}: sections must come in the order {required}"
    assert len(headings(notebook, 1)) == 1, f"{path.name}: exactly one H1 title"
    if number != "00":
        assert (ROOT / "notebooks" / "solutions" / f"{path.stem}_solutions.ipynb").exists(), \
            f"{path.name}: its solutions notebook is missing"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_skeleton(path):
    notebook = nbformat.read(path, as_version=4)
    chapter = path.stem.removesuffix("_solutions")
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{path.name}: needs a title"
    assert f"../{chapter}.ipynb" in first.source, f"{path.name}: the title cell must link back to ../{chapter}.ipynb"
    assert (ROOT / "notebooks" / f"{chapter}.ipynb").exists(), f"{path.name}: no chapter {chapter}.ipynb"
    exercises = [h for h in headings(notebook, 2) if re.match(r"Exercise \d+", h)]
    assert len(exercises) >= 4, f"{path.name}: solve at least four exercises, each under '## Exercise N'"


def test_setup_comes_first(notebook_path):
    notebook = nbformat.read(notebook_path, as_version=4)
    first_code = code_cells(notebook)[0].source
    assert "setup_notebook(" in first_code, f"{notebook_path.name}: the first code cell must call setup_notebook()"
    before = first_code.split("setup_notebook(")[0]
    assert "import tensorflow" not in before and "import keras" not in before, \
        f"{notebook_path.name}: setup_notebook() must run before TensorFlow or Keras is imported"


def test_stored_outputs_are_clean(notebook_path):
    notebook = nbformat.read(notebook_path, as_version=4)
    counts = []
    for index, cell in enumerate(code_cells(notebook), 1):
        assert cell.execution_count is not None, f"{notebook_path.name}: code cell {index} was never executed"
        counts.append(cell.execution_count)
        for output in cell.outputs:
            assert output.output_type != "error", f"{notebook_path.name}: code cell {index} stores an error"
            text = output.get("text", "") if output.output_type == "stream" else output.get("data", {}).get("text/plain", "")
            assert not (output.output_type == "stream" and output.name == "stderr"), \
                f"{notebook_path.name}: code cell {index} stores stderr output: {text[:200]!r}"
            match = NOISE.search(text)
            assert not match, f"{notebook_path.name}: code cell {index} stores log noise: {match.group(0)!r}"
    assert counts == list(range(1, len(counts) + 1)), \
        f"{notebook_path.name}: execution counts {counts} are not 1, 2, 3, ... (run it with the runner)"


def test_size_is_bounded(notebook_path):
    size = notebook_path.stat().st_size
    assert size < MAX_BYTES, f"{notebook_path.name} is {size / 1e6:.1f} MB; keep it under {MAX_BYTES / 1e6:.1f} MB"


def test_metadata_is_normalised(notebook_path):
    notebook = nbformat.read(notebook_path, as_version=4)
    assert notebook == nb_tools.normalise(copy.deepcopy(notebook)), \
        f"{notebook_path.name}: metadata not normalised; refresh it with `python -m course_lib.run --refresh`"


NBVAL_TAGS = {"nbval-check-output", "nbval-ignore-output", "nbval-skip", "nbval-raises-exception", "raises-exception"}
TEST_MARKER = re.compile(r"#\s*(NBVAL_|PYTEST_VALIDATE_)")


def test_test_markers_are_tags_not_comments(notebook_path):
    """nbval reads cell tags; a learner's code carries no test machinery (STYLE.md, Tests)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    for index, cell in enumerate(code_cells(notebook), 1):
        match = TEST_MARKER.search(cell.source)
        assert not match, (f"{notebook_path.name}: code cell {index} carries a test marker comment "
                           f"{match.group(0)!r}; use the nbval cell tag instead (e.g. 'nbval-check-output')")
        unknown = [tag for tag in cell.metadata.get("tags", []) if tag.startswith(("nbval", "raises")) and tag not in NBVAL_TAGS]
        assert not unknown, f"{notebook_path.name}: code cell {index} has unknown nbval tags {unknown}; nbval knows {sorted(NBVAL_TAGS)}"


def test_some_outputs_are_checked(notebook_path):
    """Every notebook has at least one cell whose stored output nbval verifies."""
    notebook = nbformat.read(notebook_path, as_version=4)
    checked = [cell for cell in code_cells(notebook) if "nbval-check-output" in cell.metadata.get("tags", [])]
    assert checked, f"{notebook_path.name}: tag at least one deterministic cell 'nbval-check-output'"
