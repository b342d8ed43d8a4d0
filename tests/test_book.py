"""The course book (course_lib/book.py): unit tests of its parts, bad input included, then two
builds checked in headless Chromium, served on localhost and opened as local files:

- the real book, from the committed notebooks: every page loads with no console error and no
  request leaving the machine, all math is typeset by the bundled MathJax, all images load,
  search answers, and prev/next and the source link are there. One chapter's screenshot is
  kept in build/test-artefacts/book-screenshot.png (not in git).
- a small sample book whose notebook holds what a chapter may hold (math, a PNG plot, stderr,
  TensorFlow log lines), so those checks never pass by having nothing to check.

The browser tests skip when Chromium is not installed, except in CI (env CI set), where they fail.
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import os
import shutil
import threading
from pathlib import Path

import nbformat
import pytest

from course_lib import book

# Sphinx extensions that jupyter-book loads still call docutils' old traverse().
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("google-chrome") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOT = ROOT / "build" / "test-artefacts" / "book-screenshot.png"  # kept by CI, ignored by git
TF_LOG = "2025-01-01 12:00:00.123456: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on."
ABSL_LOG = "I0000 00:00:1700000000.123456   1234 cpu_feature_guard.cc:210] This TensorFlow binary is optimized"


# ---------------------------------------------------------------------------- unit tests

def code_cell(outputs: list[dict], source: str = "print('hi')") -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def stream(name: str, text: str) -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def test_log_line_pattern_matches_tensorflow_logs_only():
    for line in (TF_LOG, ABSL_LOG, "W0000 00:00:1700000000.1 99 gpu.cc:1] warning",
                 "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
                 "E0000 00:00:1700000000.1 99 cuda_executor.cc:1] failed call to cuInit: UNKNOWN ERROR",
                 "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with"):
        assert book.LOG_LINE.match(line), line
    for line in ("Epoch 1/3", "test accuracy: 0.912", "I learned 3 things", "2025-01-01 was a Wednesday",
                 "TensorFlow 2.19.0 · Keras 3.9 · CPU"):
        assert not book.LOG_LINE.match(line), line


def test_clean_outputs_drops_stderr_and_log_lines():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 01 · Title"),
        code_cell([stream("stderr", "UserWarning: noise\n"),
                   stream("stdout", f"{TF_LOG}\nloss 0.25\n{ABSL_LOG}\naccuracy 0.9\n"),
                   stream("stdout", f"{TF_LOG}\n"),
                   {"output_type": "execute_result", "execution_count": 1, "metadata": {},
                    "data": {"text/plain": "42"}}]),
    ])
    book.clean_outputs(notebook)
    outputs = notebook.cells[1].outputs
    assert [o.output_type for o in outputs] == ["stream", "execute_result"]
    assert outputs[0].text == "loss 0.25\naccuracy 0.9\n"
    nbformat.validate(notebook)


@pytest.mark.parametrize("bad", [{}, {"cells": "none"}, None, []])
def test_clean_outputs_rejects_what_is_not_a_notebook(bad):
    with pytest.raises(ValueError, match="no cells"):
        book.clean_outputs(bad)


def test_add_source_link_goes_after_the_title_once():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01 · Title"), code_cell([])])
    for _ in range(2):
        book.add_source_link(notebook, "notebooks/01_x.ipynb", "/_notebook_sources/notebooks/01_x.ipynb")
    assert len(notebook.cells) == 3
    assert notebook.cells[1].source.startswith("Source notebook: {download}`notebooks/01_x.ipynb <")
    nbformat.validate(notebook)


def test_add_source_link_rejects_bad_input():
    with pytest.raises(ValueError, match="no cells"):
        book.add_source_link(nbformat.v4.new_notebook(), "a.ipynb", "/a.ipynb")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T")])
    with pytest.raises(ValueError, match="non-empty"):
        book.add_source_link(notebook, "", "/a.ipynb")


def test_find_notebooks_globs_chapters_and_solutions(tmp_path):
    (tmp_path / "solutions").mkdir()
    for name in ("02_b.ipynb", "00_a.ipynb", "notes.ipynb", "1_bad.ipynb", "02_b.failed.ipynb",
                 "solutions/02_b_solutions.ipynb", "solutions/02_b.ipynb", "solutions/02_b_solutions.failed.ipynb"):
        (tmp_path / name).write_text("{}")
    chapters, solutions = book.find_notebooks(tmp_path)
    assert [p.name for p in chapters] == ["00_a.ipynb", "02_b.ipynb"]
    assert [p.name for p in solutions] == ["02_b_solutions.ipynb"]


def test_find_notebooks_rejects_a_missing_or_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        book.find_notebooks(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no chapter"):
        book.find_notebooks(tmp_path)


def test_make_toc_puts_solutions_in_an_appendix():
    toc = book.make_toc(["notebooks/00_a", "notebooks/01_b"], ["notebooks/solutions/01_b_solutions"])
    assert toc["format"] == "jb-book" and toc["root"] == "intro"
    assert [p["caption"] for p in toc["parts"]] == ["Chapters", "Appendix: solutions"]
    assert toc["parts"][0]["chapters"] == [{"file": "notebooks/00_a"}, {"file": "notebooks/01_b"}]
    assert len(book.make_toc(["notebooks/00_a"], [])["parts"]) == 1


@pytest.mark.parametrize("chapters, solutions, message", [
    ([], [], "at least one chapter"),
    (["notebooks/00_a.ipynb"], [], "without its suffix"),
    (["/notebooks/00_a"], [], "without its suffix"),
    (["notebooks/00_a", "notebooks/00_a"], [], "duplicate"),
    (["notebooks/00_a"], [""], "bad entry"),
])
def test_make_toc_rejects_bad_entries(chapters, solutions, message):
    with pytest.raises(ValueError, match=message):
        book.make_toc(chapters, solutions)


def test_copy_mathjax_vendors_the_files_the_pages_load(tmp_path):
    destination = book.copy_mathjax(tmp_path / "mathjax")
    assert (destination / "tex-chtml.js").stat().st_size > 500_000
    assert list((destination / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert (destination / "input" / "tex" / "extensions" / "boldsymbol.js").is_file()
    assert (destination / "LICENSE").is_file()
    with pytest.raises(FileNotFoundError, match="missing"):
        book.copy_mathjax(tmp_path / "elsewhere", source=tmp_path / "not-mathjax")


def test_stage_rejects_a_missing_config_and_a_broken_notebook(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "00_a.ipynb").write_text("{not json")
    with pytest.raises(FileNotFoundError, match="_config.yml"):
        book.stage(notebooks, tmp_path / "no-book", tmp_path / "staging")
    with pytest.raises(ValueError, match="00_a.ipynb is not a readable notebook"):
        book.stage(notebooks, ROOT / "book", tmp_path / "staging")


def test_stage_names_a_notebook_with_no_cells(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 00 · A")]), notebooks / "00_a.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), notebooks / "01_empty.ipynb")
    with pytest.raises(ValueError, match=r"01_empty\.ipynb has no cells"):
        book.stage(notebooks, ROOT / "book", tmp_path / "staging")


def test_build_refuses_to_replace_a_folder_it_did_not_build(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a book built here"):
        book.build(ROOT / "notebooks", tmp_path, ROOT / "book")
    assert (tmp_path / "precious.txt").exists()


def test_front_door_forwards_to_the_home_page():
    page = book.front_door("intro", "Deep <learning>")
    assert 'url=intro.html"' in page and 'href="intro.html"' in page and "Deep &lt;learning&gt;" in page
    for bad in ("", "/intro", "intro.html"):
        with pytest.raises(ValueError, match="bad home page"):
            book.front_door(bad, "T")


def test_main_reports_a_missing_notebooks_folder(tmp_path, capsys):
    assert book.main(["--notebooks", str(tmp_path / "missing"), "--output", str(tmp_path / "out")]) == 2
    assert "missing is not a folder" in capsys.readouterr().err


# ---------------------------------------------------------------------------- built books

def sample_png() -> str:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3, 2), dpi=60)
    axes = figure.add_subplot()
    axes.plot([0, 1, 2], [0, 1, 4])
    axes.set(xlabel="epoch", ylabel="loss", title="A learning curve")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def write_sample_course(folder: Path) -> Path:
    """A notebooks/ folder with one chapter and its solutions, holding what chapters hold."""
    notebooks = folder / "notebooks"
    (notebooks / "solutions").mkdir(parents=True)
    chapter = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 01 · Sample chapter\n\nSolutions: [here](solutions/01_sample_solutions.ipynb)."),
        nbformat.v4.new_markdown_cell(r"## The idea" "\n\nInline $z = x W + b$ and display\n\n"
                                      r"$$\boldsymbol{h} = \sigma\left(\frac{\partial L}{\partial z}\right)$$"),
        code_cell([stream("stderr", "SAMPLE-STDERR-TEXT\n"), stream("stdout", f"{TF_LOG}\nSAMPLE-STDOUT-TEXT\n"),
                   {"output_type": "display_data", "metadata": {},
                    "data": {"image/png": sample_png(), "text/plain": "<Figure>"}}]),
    ])
    solutions = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Solutions to [01 · Sample chapter](../01_sample.ipynb)\n\n## Exercise 1\n\n$a^2$"),
    ])
    nbformat.write(chapter, notebooks / "01_sample.ipynb")
    nbformat.write(solutions, notebooks / "solutions" / "01_sample_solutions.ipynb")
    return notebooks


@pytest.fixture(scope="module")
def course_notebooks() -> list[Path]:
    """The notebooks present when the book is built (authors may add some meanwhile)."""
    chapters, solutions = book.find_notebooks(ROOT / "notebooks")
    return chapters + solutions


@pytest.fixture(scope="module")
def course_book(tmp_path_factory, course_notebooks) -> Path:
    output = tmp_path_factory.mktemp("course") / "book"
    book.build(ROOT / "notebooks", output, ROOT / "book")
    return output


@pytest.fixture(scope="module")
def sample_book(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    output = folder / "book"
    book.build(write_sample_course(folder), output, ROOT / "book")
    return output


def pages(site: Path) -> list[Path]:
    """The chapter and solutions pages, the home page first."""
    return [site / "intro.html", *sorted((site / "notebooks").rglob("*.html"))]


def test_the_course_book_has_a_page_per_notebook(course_book, course_notebooks):
    for path in course_notebooks:
        page = course_book / "notebooks" / path.relative_to(ROOT / "notebooks").with_suffix(".html")
        assert page.is_file(), f"{path.name} has no page in the book"
    assert (course_book / "index.html").is_file() and (course_book / "searchindex.js").is_file()
    assert (course_book / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_the_sample_book_drops_stderr_and_logs_and_links_sources(sample_book):
    html = (sample_book / "notebooks" / "01_sample.html").read_text(encoding="utf-8")
    assert "SAMPLE-STDOUT-TEXT" in html
    assert "SAMPLE-STDERR-TEXT" not in html and "oneDNN" not in html
    assert 'class="reference download internal"' in html and "01_sample.ipynb</span></code></a>" in html
    assert "cdn.jsdelivr" not in html and "_static/mathjax/tex-chtml.js" in html
    assert "Appendix: solutions" in (sample_book / "intro.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- in the browser

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        message = "Chromium or ChromeDriver is not installed (Debian: apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs them, so CI must have them.")
        pytest.skip(message)
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look for drivers online
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                     "--disable-dev-shm-usage", "--window-size=1280,1000",
                     # Any host but this machine fails to resolve: the book must render offline.
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    driver.get("about:blank")
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def serve():
    """Serve a folder on 127.0.0.1; returns its base URL. Servers stop with the module."""
    servers = []

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *arguments):
            pass

    def start(folder: Path) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# Waits for MathJax (when the page loads it) and every image, then reports what the page shows.
PAGE_STATE = """
const done = arguments[arguments.length - 1];
(async () => {
  const mathCount = document.querySelectorAll('.math').length;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const images = [...document.images];
  images.forEach(img => { img.loading = 'eager'; });
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  done({
    title: document.title,
    mathCount: mathCount,
    mathTypeset: [...document.querySelectorAll('.math')].filter(e => e.querySelector('mjx-container')).length,
    mathErrors: document.querySelectorAll('mjx-merror').length,
    mathJaxLoaded: !!(window.MathJax && MathJax.version),
    images: images.map(img => ({src: img.currentSrc || img.src, width: img.naturalWidth})),
    prev: !!document.querySelector('a.left-prev'),
    next: !!document.querySelector('a.right-next'),
    sourceLink: [...document.querySelectorAll('a.reference.download')].map(a => a.getAttribute('href')),
  });
})().catch(error => done({error: String(error)}));
"""


# URLs that never leave the browser: inline data, and Chromium's own pages (its new-tab page may
# still be loading in the background when the first page is opened).
INTERNAL_SCHEMES = ("data:", "blob:", "about:", "chrome:", "chrome-untrusted:")


def requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def open_page(driver, url: str, local_prefix: str) -> dict:
    """Load ``url``; return its state, having asserted no console error and no request that
    leaves ``local_prefix`` (data: URLs stay in the page)."""
    driver.get_log("browser"), driver.get_log("performance")  # drop what earlier pages left
    driver.get(url)
    state = driver.execute_async_script(PAGE_STATE)
    assert "error" not in state, f"{url}: {state.get('error')}"
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"{url}: console errors: {errors}"
    outside = [u for u in requested_urls(driver) if not u.startswith((local_prefix, *INTERNAL_SCHEMES))]
    assert not outside, f"{url}: requests leaving the book: {outside}"
    return state


def check_page(driver, url: str, local_prefix: str, page: Path) -> dict:
    state = open_page(driver, url, local_prefix)
    assert state["mathTypeset"] == state["mathCount"], \
        f"{url}: MathJax typeset {state['mathTypeset']} of {state['mathCount']} formulas"
    assert state["mathErrors"] == 0, f"{url}: {state['mathErrors']} formulas show a TeX error"
    broken = [i["src"] for i in state["images"] if i["width"] == 0]
    assert not broken, f"{url}: images that did not load: {broken}"
    if page.parent.name in ("notebooks", "solutions"):
        assert state["prev"], f"{url}: no link to the previous page"
        assert len(state["sourceLink"]) >= 1, f"{url}: no link to the source notebook"
        assert (page.parent / state["sourceLink"][0]).is_file(), f"{url}: the source link is broken"
    return state


def check_book(driver, site: Path, base: str, local_prefix: str) -> list[dict]:
    states = []
    for page in pages(site):
        states.append(check_page(driver, base + page.relative_to(site).as_posix(), local_prefix, page))
    assert states[0]["mathTypeset"] >= 1, "the home page's notation formulas were not typeset"
    # The home page: index.html forwards to it.
    open_page(driver, base + "index.html", local_prefix)
    assert driver.current_url.endswith("intro.html"), f"index.html went to {driver.current_url}"
    # Search answers from the bundled index.
    driver.get(base + "search.html?q=notation")
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(
        "return document.querySelectorAll('#search-results ul.search li').length") > 0,
        message=f"{base}search.html found nothing for 'notation'")
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"search page: console errors: {errors}"
    return states


def test_course_book_in_the_browser_over_http(browser, serve, course_book):
    base = serve(course_book)
    states = check_book(browser, course_book, base, base)
    # Keep a look at one chapter: the first with math (else the first), at its first formula.
    chapter_pages = pages(course_book)[1:]
    chosen = next((p for p, s in zip(chapter_pages, states[1:], strict=True) if s["mathCount"]), chapter_pages[0])
    browser.get(base + chosen.relative_to(course_book).as_posix())
    browser.execute_async_script(PAGE_STATE)
    browser.execute_script("const m = document.querySelector('div.math') || document.querySelector('.math');"
                           "if (m) { m.scrollIntoView({block: 'center'}); }")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT)), f"could not save {SCREENSHOT}"


def test_course_book_as_local_files(browser, course_book):
    check_book(browser, course_book, course_book.as_uri() + "/", "file://")


def test_sample_book_typesets_math_and_shows_plots(browser, serve, sample_book):
    base = serve(sample_book)
    for base_url, prefix in ((base, base), (sample_book.as_uri() + "/", "file://")):
        state = check_page(browser, base_url + "notebooks/01_sample.html", prefix,
                           sample_book / "notebooks" / "01_sample.html")
        assert state["mathCount"] == 2 and state["mathJaxLoaded"]
        assert len(state["images"]) >= 1 and all(i["width"] > 0 for i in state["images"])
        assert state["next"], "the chapter links on to its solutions"
        solutions = check_page(browser, base_url + "notebooks/solutions/01_sample_solutions.html", prefix,
                               sample_book / "notebooks" / "solutions" / "01_sample_solutions.html")
        assert solutions["mathCount"] == 1
