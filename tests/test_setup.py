from __future__ import annotations

import os
import subprocess
import sys

import pytest

from course_lib import setup


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in setup.TF_ENVIRONMENT}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)


def test_setup_prints_one_line_and_seeds_reproducibly():
    code = ("from course_lib.setup import setup_notebook\n"
            "info = setup_notebook(seed=7)\n"
            "import numpy as np, tensorflow as tf, os\n"
            "print(np.random.rand(), float(tf.random.uniform(())), os.environ['TF_ENABLE_ONEDNN_OPTS'])\n"
            "setup_notebook(seed=7, show=False)\n"
            "print(np.random.rand(), float(tf.random.uniform(())))\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Python ") and "TensorFlow" in lines[0] and "seed 7" in lines[0]
    first, second = lines[1].split(), lines[2].split()
    assert first[2] == "1" and first[:2] == second
    # TensorFlow's C++ import messages are kept out of the output.
    assert "cuda drivers" not in result.stderr and "oneDNN custom operations" not in result.stderr


def test_wrong_backend_is_refused_with_the_fix():
    result = run_python("from course_lib.setup import setup_notebook; setup_notebook()", KERAS_BACKEND="jax")
    assert result.returncode != 0 and "KERAS_BACKEND" in result.stderr and "restart the kernel" in result.stderr


def test_tensorflow_imported_too_early_is_refused():
    code = "import tensorflow\nfrom course_lib.setup import setup_notebook\nsetup_notebook()"
    result = run_python(code, TF_ENABLE_ONEDNN_OPTS="0")
    assert result.returncode != 0 and "Restart the kernel and run the setup cell first" in result.stderr


def test_version_checks_explain_the_fix():
    assert setup.check_versions("2.21.0", "3.15.1", "tensorflow") == []
    problems = setup.check_versions("2.15.1", "2.15.0", "jax")
    assert len(problems) == 3 and "tensorflow 2.15.1 is too old" in problems[0] and "KERAS_BACKEND" in problems[2]


@pytest.mark.parametrize("text, expected", [("2.21.0", (2, 21, 0)), ("2.21.0rc1", (2, 21, 0)), ("3.15", (3, 15)),
                                            ("nightly", ())])
def test_version_tuple(text, expected):
    assert setup.version_tuple(text) == expected


def test_environment_info_summary():
    info = setup.EnvironmentInfo("3.11.7", "2.21.0", "3.15.1", "CPU (2 cores)", 42)
    assert info.summary() == "Python 3.11.7 · TensorFlow 2.21.0 · Keras 3.15.1 · CPU (2 cores) · seed 42"


def test_describe_device_on_this_machine():
    tf = pytest.importorskip("tensorflow")
    device = setup.describe_device(tf)
    assert device.startswith("CPU (") or device.startswith("GPU: ")


def test_check_environment_passes_here_and_names_a_broken_data_file(data_copy):
    pytest.importorskip("tensorflow")
    checks = setup.check_environment()
    assert all(check.ok for check in checks), setup.format_checks(checks)
    assert {"Python", "TensorFlow", "Keras", "Keras backend", "Device"} <= {check.name for check in checks}
    (data_copy / "co2_mm_mlo.csv").write_text("year,month\n")
    broken = [check for check in setup.check_environment() if not check.ok]
    assert [check.name for check in broken] == ["data/co2_mm_mlo.csv"]
    assert "git checkout data/" in broken[0].detail
    assert setup.format_checks(broken).startswith("PROBLEM data/co2_mm_mlo.csv  Data file")


def test_cpu_devices_splits_the_cpu_before_tensorflow_initialises():
    code = ("from course_lib.setup import setup_notebook\n"
            "setup_notebook(seed=1, show=False, cpu_devices=3)\n"
            "import tensorflow as tf\n"
            "print(len(tf.config.list_logical_devices('CPU')))\n"
            "setup_notebook(seed=1, show=False, cpu_devices=3)\n"  # the same split again is fine
            "try:\n"
            "    setup_notebook(seed=1, show=False, cpu_devices=2)\n"
            "except RuntimeError as error:\n"
            "    print(error)\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "3"
    assert "already initialised 3 CPU device(s)" in lines[1] and "cpu_devices=2" in lines[1]


def test_default_leaves_one_cpu_device():
    result = run_python("from course_lib.setup import setup_notebook\nsetup_notebook(show=False)\n"
                        "import tensorflow as tf\nprint(len(tf.config.list_logical_devices('CPU')))\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1"]


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_cpu_devices_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="cpu_devices must be a positive integer"):
        setup.setup_notebook(show=False, cpu_devices=bad)


def test_strip_ansi_removes_colour_and_bold_codes():
    assert setup.strip_ansi("\x1b[1mModel\x1b[0m │ (\x1b[38;5;45mNone\x1b[0m, 10)") == "Model │ (None, 10)"
    assert setup.strip_ansi("no codes here") == "no codes here"


def test_rich_output_in_a_notebook_stores_no_ansi_codes():
    code = ("from IPython.core.interactiveshell import InteractiveShell\n"
            "from IPython.utils.capture import capture_output\n"
            "import rich.console\n"
            "shell = InteractiveShell.instance()\n"
            "shell.run_cell('from course_lib.setup import setup_notebook; setup_notebook(show=False)')\n"
            "with capture_output() as captured:\n"
            "    rich.console.Console(force_jupyter=True).print('[bold]Model:[/bold] [blue]dense[/blue]')\n"
            "data = captured.outputs[0].data\n"
            "print(repr(data['text/plain']), '<span' in data['text/html'])\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "'Model: dense\\n' True"
