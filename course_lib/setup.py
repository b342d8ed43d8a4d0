"""One call at the top of every notebook: quiet logs, oneDNN, seeds, versions, plot style.

TensorFlow reads its logging and oneDNN settings only when it is first imported, so
:func:`setup_notebook` must run before anything imports TensorFlow or Keras.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import sys
import warnings
from dataclasses import dataclass

# The course's one choice of TensorFlow settings. oneDNN kernels make CNN epochs about 1.3x
# faster on the CPUs we measured; the price is that the last digits of float32 results can
# differ between CPUs, which the notebooks allow for.
TF_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",     # no C++ INFO/WARNING/ERROR lines
    "TF_ENABLE_ONEDNN_OPTS": "1",    # oneDNN kernels on, everywhere
    "KERAS_BACKEND": "tensorflow",   # this course is written for the TensorFlow backend
}
MINIMUM_VERSIONS = {"tensorflow": (2, 16), "keras": (3, 0)}


@dataclass(frozen=True)
class EnvironmentInfo:
    """What :func:`setup_notebook` found: versions, the device the notebook runs on, the seed."""

    python: str
    tensorflow: str
    keras: str
    device: str
    seed: int

    def summary(self) -> str:
        return (f"Python {self.python} · TensorFlow {self.tensorflow} · Keras {self.keras} · "
                f"{self.device} · seed {self.seed}")


def version_tuple(version: str) -> tuple[int, ...]:
    """``"2.21.0rc1"`` -> ``(2, 21, 0)``: the leading numeric parts of a version string."""
    parts = []
    for piece in version.split("."):
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):
            break
    return tuple(parts)


@contextlib.contextmanager
def _silence_stderr_fd():
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ import messages bypass Python."""
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            sys.stderr.flush()
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def quiet_native_stderr():
    """A context manager that hides what C++ code writes straight to file descriptor 2, such
    as the TFLite converter's and LiteRT's notices. Python's warnings and errors still show in a
    notebook, which sends them through its own stream."""
    return _silence_stderr_fd()


def configure_environment() -> None:
    """Set the course's TensorFlow environment variables, refusing a conflicting backend.

    Raises:
        RuntimeError: ``KERAS_BACKEND`` names another backend, or TensorFlow was already
            imported with other settings; the message says how to fix it.
    """
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow":
        raise RuntimeError(
            f"KERAS_BACKEND is set to {backend!r}, but this course needs the TensorFlow backend. "
            f"Unset it (or set KERAS_BACKEND=tensorflow, also in ~/.keras/keras.json) and restart the kernel."
        )
    already = "tensorflow" in sys.modules
    for key, value in TF_ENVIRONMENT.items():
        if already and os.environ.get(key) != value:
            raise RuntimeError(
                f"TensorFlow was imported before course_lib's setup, with {key}={os.environ.get(key)!r}. "
                f"Restart the kernel and run the setup cell first."
            )
        os.environ[key] = value


def check_versions(tensorflow_version: str, keras_version: str, backend: str) -> list[str]:
    """Return plain-language problems with the installed versions (empty when all is well)."""
    problems = []
    for package, installed in (("tensorflow", tensorflow_version), ("keras", keras_version)):
        minimum = MINIMUM_VERSIONS[package]
        if version_tuple(installed)[:2] < minimum:
            problems.append(
                f"{package} {installed} is too old; the course needs {package} >= "
                f"{'.'.join(map(str, minimum))}. Run `make install` (or `pip install -r requirements.txt`)."
            )
    if backend != "tensorflow":
        problems.append(
            f"Keras uses the {backend!r} backend; set KERAS_BACKEND=tensorflow (and check "
            f"~/.keras/keras.json), then restart the kernel."
        )
    return problems


def describe_device(tf) -> str:
    """``"GPU: NVIDIA H100"`` when TensorFlow sees a GPU, else ``"CPU (N cores)"``."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}" + (f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else "")
    return f"CPU ({os.cpu_count()} cores)"


def configure_cpu_devices(tf, count: int) -> None:
    """Split the first physical CPU into ``count`` logical devices, or check that it already is.

    Raises:
        RuntimeError: TensorFlow's devices were initialised with another split; the message
            says to restart the kernel.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError:  # devices already initialised: fine only if the split is the same
        found = len(tf.config.list_logical_devices("CPU"))
        if found != count:
            raise RuntimeError(
                f"TensorFlow has already initialised {found} CPU device(s), so it cannot be split into "
                f"{count} now. Restart the kernel and call setup_notebook(cpu_devices={count}) first."
            ) from None


ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences (the colour and bold codes a terminal reads)."""
    return ANSI_ESCAPE.sub("", text)


def _plain_rich_bundle(renderable) -> dict[str, str]:
    return {"text/plain": strip_ansi(renderable.text), "text/html": renderable.html}


def store_plain_text(shell) -> None:
    """Make rich's notebook output (Keras's ``model.summary()``) keep ANSI codes out of its text.

    rich sends a notebook both HTML (styled) and plain text; it writes colour codes into the
    plain text, which a notebook then stores and shows raw wherever HTML is not rendered. This
    registers, in ``shell``'s display formatter, a version without them; the HTML is unchanged.
    """
    shell.display_formatter.mimebundle_formatter.for_type_by_name("rich.jupyter", "JupyterRenderable",
                                                                  _plain_rich_bundle)


def setup_notebook(seed: int = 42, style: bool = True, show: bool = True,
                   cpu_devices: int | None = None) -> EnvironmentInfo:
    """Prepare a notebook: environment, quiet TensorFlow, seeds, plot style; print one line.

    Call it in the first code cell, before importing TensorFlow or Keras. Calling it again in
    the same kernel re-seeds everything.

    Args:
        seed: seeds Python's ``random``, NumPy's global generator and TensorFlow.
        style: apply the course's matplotlib style.
        show: print the versions-and-device line.
        cpu_devices: split the CPU into this many logical devices (``/CPU:0`` ... ``/CPU:n-1``),
            so that ``tf.distribute`` strategies can run several replicas on one machine. It must
            happen before TensorFlow initialises, so call it in a fresh kernel. ``None`` (the
            default) leaves the one CPU device as it is.

    Raises:
        RuntimeError: wrong Keras backend, outdated TensorFlow/Keras, or TensorFlow imported
            too early; each message says how to fix it. Also when ``cpu_devices`` comes after
            TensorFlow has initialised its devices.
        ValueError: ``cpu_devices`` is not a positive integer.
    """
    if cpu_devices is not None and (isinstance(cpu_devices, bool) or not isinstance(cpu_devices, int)
                                    or cpu_devices < 1):
        raise ValueError(f"cpu_devices must be a positive integer (such as 2) or None, got {cpu_devices!r}.")
    configure_environment()
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(tensorflow|keras|google|absl).*")
    with _silence_stderr_fd():
        import keras
        import tensorflow as tf
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel("ERROR")
    if cpu_devices is not None:
        configure_cpu_devices(tf, cpu_devices)
    problems = check_versions(tf.__version__, keras.__version__, keras.backend.backend())
    if problems:
        raise RuntimeError(" ".join(problems))
    keras.utils.set_random_seed(seed)
    shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    if shell is not None and hasattr(shell, "display_formatter"):
        store_plain_text(shell)
    if style:
        from course_lib.plotting import use_course_style

        use_course_style()
    info = EnvironmentInfo(
        python=platform.python_version(), tensorflow=tf.__version__, keras=keras.__version__,
        device=describe_device(tf), seed=seed,
    )
    if show:
        print(info.summary())
    return info


@dataclass(frozen=True)
class Check:
    """One line of the environment check: what was checked, whether it passed, and the detail
    (the version found, or what is wrong and how to fix it)."""

    name: str
    ok: bool
    detail: str


def check_environment() -> list[Check]:
    """Check what the course needs: Python, TensorFlow, Keras and its backend, the data files.

    Each failed check's detail says what to do. Call it after :func:`setup_notebook`.
    """
    import keras
    import tensorflow as tf

    from course_lib import data

    python_ok = sys.version_info[:2] >= (3, 10)
    checks = [Check("Python", python_ok, platform.python_version() if python_ok else
                    f"{platform.python_version()} is too old; install Python 3.10 or newer (3.11 is tested).")]
    problems = check_versions(tf.__version__, keras.__version__, keras.backend.backend())
    for package, version in (("tensorflow", tf.__version__), ("keras", keras.__version__)):
        mine = [p for p in problems if p.startswith(package)]
        checks.append(Check(package.capitalize() if package == "keras" else "TensorFlow", not mine,
                            mine[0] if mine else version))
    backend_problems = [p for p in problems if "backend" in p]
    checks.append(Check("Keras backend", not backend_problems,
                        backend_problems[0] if backend_problems else keras.backend.backend()))
    checks.append(Check("Device", True, describe_device(tf)))
    for name in data.CHECKSUMS:
        try:
            data.read_verified(name)
            checks.append(Check(f"data/{name}", True, "present, checksum verified"))
        except (OSError, ValueError) as error:  # missing, unreadable or damaged: reported, never a crash
            checks.append(Check(f"data/{name}", False, str(error)))
    return checks


def format_checks(checks: list[Check]) -> str:
    """The checks as aligned text lines: ``ok``/``PROBLEM``, the name, the detail."""
    width = max(len(check.name) for check in checks)
    return "\n".join(f"{'ok' if check.ok else 'PROBLEM':8}{check.name:{width}}  {check.detail}" for check in checks)
