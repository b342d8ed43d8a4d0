"""course_lib.processes: free ports, logs shown on failure, timeouts, and nothing left running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from course_lib.processes import ProcessFailed, ProcessGroup, free_port, free_ports

PYTHON = sys.executable


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); read its state where /proc exists.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_free_port_can_be_bound():
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_free_ports_are_distinct():
    ports = free_ports(5)
    assert len(set(ports)) == 5


@pytest.mark.parametrize("count", [0, -1, 1.5, True, "2"])
def test_free_ports_refuses_a_bad_count(count):
    with pytest.raises(ValueError, match="count"):
        free_ports(count)


def test_a_process_that_succeeds_logs_its_output(tmp_path):
    with ProcessGroup(tmp_path) as group:
        process = group.start("hello", [PYTHON, "-c", "import os; print('hello', os.environ['GREETING'])"],
                              env={"GREETING": "there"})
        assert group.wait_all(timeout=30) == {"hello": 0}
    assert process.log_text().strip() == "hello there"
    assert (tmp_path / "hello.log").exists()


def test_a_failing_process_is_named_with_its_log(tmp_path):
    script = "import sys; print('loading the model'); sys.exit('the model file is missing')"
    with ProcessGroup(tmp_path) as group:
        ok = group.start("ok", [PYTHON, "-c", "import time; time.sleep(30)"])
        group.start("worker1", [PYTHON, "-c", script])
        started = time.monotonic()
        with pytest.raises(ProcessFailed) as caught:
            group.wait_all(timeout=30)
        # It does not wait for the healthy process (which may be waiting for the failed one).
        assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "worker1 exited with code 1" in message
    assert str(tmp_path / "worker1.log") in message
    assert "the model file is missing" in message and "loading the model" in message
    assert wait_gone(ok.pid)


def test_a_timeout_names_what_is_still_running_and_stops_it(tmp_path):
    with ProcessGroup(tmp_path) as group:
        sleeper = group.start("sleeper", [PYTHON, "-c", "print('waiting for peers', flush=True); import time; time.sleep(60)"])
        with pytest.raises(ProcessFailed, match=r"sleeper was still running after 0.5 s") as caught:
            group.wait_all(timeout=0.5)
        assert "waiting for peers" in str(caught.value)
    assert wait_gone(sleeper.pid)


def test_wait_for_port_returns_once_the_server_listens(tmp_path):
    port = free_port()
    with ProcessGroup(tmp_path) as group:
        server = group.start("server", [PYTHON, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=tmp_path)
        group.wait_for_port(server, port, timeout=30)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    assert wait_gone(server.pid)


def test_wait_for_port_fails_fast_when_the_process_dies(tmp_path):
    with ProcessGroup(tmp_path) as group:
        crashing = group.start("server", [PYTHON, "-c", "raise SystemExit('port already in use')"])
        started = time.monotonic()
        with pytest.raises(ProcessFailed, match="server exited with code 1 before it listened") as caught:
            group.wait_for_port(crashing, free_port(), timeout=30)
        assert time.monotonic() - started < 10
        assert "port already in use" in str(caught.value)


def test_wait_for_port_times_out(tmp_path):
    with ProcessGroup(tmp_path) as group:
        silent = group.start("silent", [PYTHON, "-c", "import time; time.sleep(60)"])
        with pytest.raises(ProcessFailed, match=r"did not listen on 127.0.0.1:\d+ within 0.3 s"):
            group.wait_for_port(silent, free_port(), timeout=0.3)


def test_children_are_stopped_with_their_parent(tmp_path):
    child_pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(child_pid_file)!r}, "w").write(str(child.pid))
        time.sleep(60)
    """)
    with ProcessGroup(tmp_path) as group:
        parent = group.start("parent", [PYTHON, "-c", script])
        deadline = time.monotonic() + 20
        while not (child_pid_file.exists() and child_pid_file.read_text()):
            assert time.monotonic() < deadline, parent.log_text()
            time.sleep(0.05)
    child_pid = int(child_pid_file.read_text())
    assert wait_gone(parent.pid) and wait_gone(child_pid)


def test_kill_is_a_crash_that_wait_all_does_not_count(tmp_path):
    with ProcessGroup(tmp_path) as group:
        victim = group.start("victim", [PYTHON, "-c", "import time; time.sleep(60)"])
        group.start("survivor", [PYTHON, "-c", "print('done')"])
        victim.kill()
        assert victim.returncode == -9 and not victim.alive()
        assert group.wait_all(timeout=30) == {"survivor": 0}


def test_processes_stop_when_the_block_raises(tmp_path):
    with pytest.raises(KeyError), ProcessGroup(tmp_path) as group:
        process = group.start("worker", [PYTHON, "-c", "import time; time.sleep(60)"])
        raise KeyError("a bug in the chapter")
    assert wait_gone(process.pid)


def test_processes_are_stopped_at_interpreter_exit(tmp_path):
    """A script that forgets to close its group still leaves nothing running when it exits."""
    script = textwrap.dedent(f"""
        import sys
        from course_lib.processes import ProcessGroup
        group = ProcessGroup({str(tmp_path)!r})
        process = group.start("orphan", [sys.executable, "-c", "import time; time.sleep(60)"])
        print(process.pid, flush=True)
    """)
    result = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert wait_gone(int(result.stdout.strip()))


def test_a_program_that_does_not_exist_is_a_clear_error(tmp_path):
    with ProcessGroup(tmp_path) as group, pytest.raises(ProcessFailed, match="Could not start ghost"):
        group.start("ghost", [str(tmp_path / "no-such-program")])


@pytest.mark.parametrize("name", ["", "a/b", "../up", " lead", 3])
def test_bad_process_names_are_refused(tmp_path, name):
    with ProcessGroup(tmp_path) as group, pytest.raises(ValueError, match="process name"):
        group.start(name, [PYTHON, "-c", "pass"])


@pytest.mark.parametrize("args", [[], "python -c pass", [PYTHON, 3]])
def test_bad_args_are_refused(tmp_path, args):
    with ProcessGroup(tmp_path) as group, pytest.raises(ValueError, match="args must be"):
        group.start("worker", args)


def test_env_values_must_be_strings(tmp_path):
    with ProcessGroup(tmp_path) as group, pytest.raises(ValueError, match="env must map strings"):
        group.start("worker", [PYTHON, "-c", "pass"], env={"TF_CONFIG": {"cluster": {}}})


def test_a_name_in_use_is_refused_while_it_runs(tmp_path):
    with ProcessGroup(tmp_path) as group:
        group.start("worker", [PYTHON, "-c", "import time; time.sleep(60)"])
        with pytest.raises(ValueError, match="already has a running process named 'worker'"):
            group.start("worker", [PYTHON, "-c", "pass"])


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), "10", None])
def test_bad_timeouts_are_refused(tmp_path, timeout):
    with ProcessGroup(tmp_path) as group:
        group.start("worker", [PYTHON, "-c", "pass"])
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            group.wait_all(timeout=timeout)


def test_an_unwritable_log_folder_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match="Cannot create the log folder"):
        ProcessGroup(blocker / "logs")
