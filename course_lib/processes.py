"""Start, watch and stop the processes a chapter needs: distributed workers, a model server.

A chapter never manages processes by hand. It opens a :class:`ProcessGroup`, starts what it
needs, waits for it with a timeout, and leaves the ``with`` block; every process is then stopped,
children included, even after an error or a Ctrl-C, and again at interpreter exit for anything
left. Each process writes its stdout and stderr to a log file, and the log is shown only when the
process fails (:class:`ProcessFailed`).

    with ProcessGroup(log_dir=Path("build/logs"), name="cluster") as group:
        port = free_port()
        server = group.start("server", [sys.executable, "serve.py", str(port)])
        group.wait_for_port(server, port, timeout=60)
        ...
"""

from __future__ import annotations

import atexit
import math
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

LOG_TAIL_LINES = 25
POLL_SECONDS = 0.05
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LIVE: dict[int, ManagedProcess] = {}  # every process started and not yet stopped, by pid


class ProcessFailed(RuntimeError):
    """A managed process exited with an error, or did not do what was awaited in time. The
    message names the process, the reason, its log file and the last lines of that log."""


def _check_timeout(timeout: float, name: str = "timeout") -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or math.isnan(timeout) or timeout <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {timeout!r}.")
    return float(timeout)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports that are free on ``host`` right now (all held open together
    while they are chosen, so they cannot repeat)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive whole number of ports, got {count!r}.")
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` (localhost by default) right now."""
    return free_ports(1, host)[0]


class ManagedProcess:
    """One process started by a :class:`ProcessGroup`; its output goes to ``log_path``."""

    def __init__(self, name: str, args: list[str], log_path: Path, env: Mapping[str, str] | None, cwd: Path | None):
        self.name = name
        self.args = args
        self.log_path = log_path
        self.killed_on_purpose = False
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        options = {"start_new_session": True} if os.name != "nt" else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        try:
            self._popen = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           env={**os.environ, **(env or {})}, cwd=cwd, **options)
        except OSError as error:
            self._log.close()
            raise ProcessFailed(f"Could not start {name} ({args[0]!r}): {error}. Check that the program exists.") from error
        _LIVE[self._popen.pid] = self

    def __repr__(self) -> str:
        state = "running" if self.alive() else f"exited with code {self.returncode}"
        return f"<ManagedProcess {self.name} pid={self.pid} {state}>"

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit code, negative for a signal (``-9`` after :meth:`kill`); ``None`` while running."""
        return self._popen.poll()

    def alive(self) -> bool:
        return self._popen.poll() is None

    def log_text(self, tail_lines: int | None = None) -> str:
        """What the process has written so far (its last ``tail_lines`` lines, if given)."""
        if not self._log.closed:
            self._log.flush()
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return text if tail_lines is None else "\n".join(text.splitlines()[-tail_lines:])

    def failure(self, reason: str) -> ProcessFailed:
        """A :class:`ProcessFailed` that names this process, the reason and its log."""
        tail = self.log_text(LOG_TAIL_LINES).rstrip() or "(the log is empty)"
        indented = "\n".join("    " + line for line in tail.splitlines())
        return ProcessFailed(f"{self.name} {reason} (log: {self.log_path}). Last lines of its log:\n{indented}")

    def _signal(self, number: int) -> None:
        try:
            if os.name == "nt":
                self._popen.kill()
            else:
                os.killpg(self._popen.pid, number)  # the process and every child it started
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self) -> None:
        """Kill the process and its children at once with SIGKILL, as a crash would; a process
        killed on purpose is not counted as a failure by :meth:`ProcessGroup.wait_all`."""
        self.killed_on_purpose = True
        self._signal(signal.SIGKILL if os.name != "nt" else signal.SIGTERM)
        self._popen.wait()
        self.stop()

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the process and its children: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.alive():
            self._signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL if os.name != "nt" else signal.SIGTERM)
                self._popen.wait()
        elif os.name != "nt":
            self._signal(signal.SIGKILL)  # the leader is gone; its children may not be
        self._log.close()
        _LIVE.pop(self._popen.pid, None)
        return self.returncode


class ProcessGroup:
    """The processes of one task (a cluster, a server), stopped together when the ``with`` block
    ends, however it ends. Logs go to ``log_dir/<name>.log``."""

    def __init__(self, log_dir: Path | str, name: str = "processes"):
        self.name = name
        self.log_dir = Path(log_dir)
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"Cannot create the log folder {self.log_dir}: {error}. Pass a writable log_dir.") from error
        self.processes: dict[str, ManagedProcess] = {}

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop_all()

    def start(self, name: str, args: Sequence[str | os.PathLike], env: Mapping[str, str] | None = None,
              cwd: Path | str | None = None) -> ManagedProcess:
        """Start ``args`` as process ``name``; ``env`` adds to (or overrides) the current environment."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"A process name is letters, digits, '_', '.' or '-' (it names its log file); got {name!r}.")
        if name in self.processes and self.processes[name].alive():
            raise ValueError(f"{self.name} already has a running process named {name!r}; stop it first or pick another name.")
        if isinstance(args, str | bytes) or not args or not all(isinstance(a, str | os.PathLike) for a in args):
            raise ValueError(f"args must be a non-empty list of strings, such as [sys.executable, 'worker.py']; got {args!r}.")
        if env is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ValueError("env must map strings to strings (convert numbers with str(), JSON with json.dumps()).")
        if name in self.processes:
            self.processes[name].stop()
        process = ManagedProcess(name, [os.fspath(a) for a in args], self.log_dir / f"{name}.log", env,
                                 None if cwd is None else Path(cwd))
        self.processes[name] = process
        return process

    def wait_for_port(self, process: ManagedProcess, port: int, timeout: float = 60.0, host: str = "127.0.0.1") -> None:
        """Wait until ``process`` accepts TCP connections on ``port``; raise :class:`ProcessFailed`
        if it exits first or ``timeout`` seconds pass."""
        timeout = _check_timeout(timeout)
        deadline = time.monotonic() + timeout
        while True:
            if not process.alive():
                raise process.failure(f"exited with code {process.returncode} before it listened on port {port}")
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise process.failure(f"did not listen on {host}:{port} within {timeout:g} s")
            time.sleep(POLL_SECONDS)

    def wait_all(self, timeout: float, processes: Sequence[ManagedProcess] | None = None) -> dict[str, int]:
        """Wait for ``processes`` (default: every process not killed on purpose) to exit; return
        ``{name: exit code}``. Raise :class:`ProcessFailed` as soon as one exits non-zero (the
        others may be waiting for it forever), or after ``timeout`` seconds for the first one
        still running."""
        timeout = _check_timeout(timeout)
        waiting = list(processes) if processes is not None else [p for p in self.processes.values()
                                                                   if not p.killed_on_purpose]
        deadline = time.monotonic() + timeout
        while True:
            for process in waiting:
                code = process.returncode
                if code is not None and code != 0:
                    raise process.failure(f"exited with code {code}")
            if all(process.returncode is not None for process in waiting):
                return {process.name: process.returncode for process in waiting}
            if time.monotonic() > deadline:
                running = [process for process in waiting if process.alive()]
                raise running[0].failure(f"was still running after {timeout:g} s "
                                         f"(still running: {', '.join(p.name for p in running)})")
            time.sleep(POLL_SECONDS)

    def stop(self, process: ManagedProcess, timeout: float = 10.0) -> int | None:
        """Stop one process of the group (and its children)."""
        return process.stop(_check_timeout(timeout))

    def stop_all(self, timeout: float = 10.0) -> dict[str, int | None]:
        """Stop every process of the group; return their exit codes."""
        timeout = _check_timeout(timeout)
        return {name: process.stop(timeout) for name, process in self.processes.items()}


@atexit.register
def _stop_leftovers() -> None:
    for process in list(_LIVE.values()):
        process.stop(timeout=2.0)
