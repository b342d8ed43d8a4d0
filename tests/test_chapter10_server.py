"""Chapter 10's model server: the script the notebook writes, run as the notebook runs it.

The script is read from the notebook's ``%%writefile`` cell, so these tests check the code the
learner sees. They start it through ``course_lib.processes`` on a tiny exported model and check
that it answers good and bad requests, keeps serving after bad ones, and never outlives the code
that started it: not after a normal exit, not after an error, not after the interpreter exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_lib.processes import ProcessGroup, free_port

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "10_compress_deploy.ipynb"
START_TIMEOUT = 180  # seconds for the server to import TensorFlow and load the model on a busy CPU


def server_source() -> str:
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    scripts = [s for s in cells if s.startswith("%%writefile") and "ThreadingHTTPServer" in s]
    assert len(scripts) == 1, "chapter 10 must write exactly one server script with %%writefile"
    return scripts[0].split("\n", 1)[1]


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="module")
def served_files(tmp_path_factory):
    """The server script and a tiny SavedModel with the chapter's signature: [batch, 28, 28, 1] -> [batch, 10]."""
    folder = tmp_path_factory.mktemp("chapter10")
    script = folder / "serve_savedmodel.py"
    script.write_text(server_source(), encoding="utf-8")
    model_dir = folder / "model"
    export = textwrap.dedent(f"""
        from course_lib.setup import setup_notebook
        setup_notebook(seed=0, style=False, show=False)
        import keras
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
        model.export({str(model_dir)!r}, verbose=False)
    """)
    subprocess.run([sys.executable, "-c", export], check=True, timeout=300, capture_output=True)
    return script, model_dir


def post(url: str, body: bytes | None, timeout: float = 30.0):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def start_server(group: ProcessGroup, served_files):
    script, model_dir = served_files
    port = free_port()
    server = group.start("server", [sys.executable, str(script), str(model_dir), str(port)])
    group.wait_for_port(server, port, timeout=START_TIMEOUT)
    return server, f"http://127.0.0.1:{port}"


IMAGES = np.random.default_rng(0).random((3, 28, 28)).round(3)
GOOD = json.dumps({"instances": IMAGES.tolist()}).encode()
BAD = {
    "malformed JSON": (b'{"instances": [1, 2', 400, "malformed JSON"),
    "not an object": (b"[1, 2, 3]", 400, "instances"),
    "missing key": (json.dumps({"images": IMAGES.tolist()}).encode(), 400, "instances"),
    "wrong shape": (json.dumps({"instances": IMAGES.reshape(3, 784).tolist()}).encode(), 400, "shape [3, 784]"),
    "empty batch": (json.dumps({"instances": []}).encode(), 400, "shape"),
    "strings": (json.dumps({"instances": [[["0.5"] * 28] * 28]}).encode(), 400, "strings"),
    "booleans": (json.dumps({"instances": [[[True] * 28] * 28]}).encode(), 400, "booleans"),
    "nulls": (json.dumps({"instances": [[[None] * 28] * 28]}).encode(), 400, "nulls"),
    "ragged": (json.dumps({"instances": [[[0.5] * 28] * 27 + [[0.5] * 3]]}).encode(), 400, "ragged"),
    "0..255 pixels": (json.dumps({"instances": (255 * IMAGES).tolist()}).encode(), 400, "[0, 1]"),
    "NaN": (json.dumps({"instances": np.where(IMAGES > 0.5, np.nan, IMAGES).tolist()}).encode(), 400, "finite"),
    "Infinity": (json.dumps({"instances": np.where(IMAGES > 0.5, np.inf, IMAGES).tolist()}).encode(), 400, "finite"),
    "-Infinity": (json.dumps({"instances": np.where(IMAGES > 0.5, -np.inf, IMAGES).tolist()}).encode(), 400, "finite"),
    "too many images": (json.dumps({"instances": np.zeros((257, 28, 28)).tolist()}).encode(), 413, "at most 256"),
}


def test_server_answers_rejects_bad_requests_and_keeps_serving(served_files, tmp_path):
    with ProcessGroup(log_dir=tmp_path / "logs", name="chapter10") as group:
        server, url = start_server(group, served_files)
        with urllib.request.urlopen(f"{url}/health", timeout=30) as response:
            assert json.loads(response.read()) == {"status": "ok"}
        status, good = post(f"{url}/predict", GOOD)
        assert status == 200
        assert np.array(good["predictions"]).shape == (3, 10) and len(good["classes"]) == 3
        channel_axis = json.dumps({"instances": IMAGES[..., None].tolist()}).encode()
        assert post(f"{url}/predict", channel_axis) == (200, good)
        for name, (body, expected_status, words) in BAD.items():
            status, reply = post(f"{url}/predict", body)
            assert status == expected_status, (name, status, reply)
            assert words in reply["error"], (name, reply)
            assert server.alive(), f"the server died after a bad request: {name}"
            assert post(f"{url}/predict", GOOD) == (200, good), f"no good answer after: {name}"
        assert post(f"{url}/nowhere", GOOD)[0] == 404
        pid = server.pid
    assert not server.alive() and not pid_exists(pid), "the server outlived its ProcessGroup"


def test_server_is_stopped_when_the_block_raises(served_files, tmp_path):
    with pytest.raises(RuntimeError, match="a cell failed"):
        with ProcessGroup(log_dir=tmp_path / "logs", name="chapter10") as group:
            server, url = start_server(group, served_files)
            assert post(f"{url}/predict", GOOD)[0] == 200
            raise RuntimeError("a cell failed while the server was running")
    assert not server.alive() and not pid_exists(server.pid)


@pytest.mark.parametrize("ending", ["return", "raise"])
def test_server_does_not_outlive_the_interpreter(served_files, tmp_path, ending):
    """A kernel that exits (or dies of an exception) without stopping the server still stops it."""
    script, model_dir = served_files
    child = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from course_lib.processes import ProcessGroup, free_port
        group = ProcessGroup(log_dir=Path({str(tmp_path / "logs")!r}), name="leak")
        port = free_port()
        server = group.start("server", [sys.executable, {str(script)!r}, {str(model_dir)!r}, str(port)])
        group.wait_for_port(server, port, timeout={START_TIMEOUT})
        print(server.pid, flush=True)
        if {ending == "raise"}:
            raise SystemExit("the kernel died")
    """)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=START_TIMEOUT + 60)
    pid = int(result.stdout.split()[0])
    assert not pid_exists(pid), f"server pid {pid} outlived the interpreter that started it"


def test_notebook_stops_its_server_in_a_finally():
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    starting = [s for s in cells if "ProcessGroup(" in s and ".start(" in s]
    assert len(starting) == 1, "one cell starts the server"
    body = starting[0]
    assert "try:" in body and "finally:" in body and "stop_all()" in body.split("finally:", 1)[1]
    assert "free_port()" in body and "wait_for_port(" in body and "timeout=" in body
    later = cells[cells.index(body) + 1:]
    assert any("assert not server.alive()" in s for s in later), "the notebook asserts the server is gone"


def test_quiet_native_stderr_hides_file_descriptor_2(capfd):
    from course_lib.setup import quiet_native_stderr

    with quiet_native_stderr():
        os.write(2, b"native noise\n")
    os.write(2, b"visible\n")
    captured = capfd.readouterr()
    assert "native noise" not in captured.err and "visible" in captured.err
