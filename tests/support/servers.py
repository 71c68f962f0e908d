"""Servers a user-facing test starts (JupyterLab, JupyterHub): free loopback ports, a user's environment, a process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

# Set by tests/conftest.py for the tests; a server started for a user (JupyterLab, JupyterHub) must not inherit them
# (MPLBACKEND=Agg would hide every figure).
TEST_ONLY_ENV = ("MPLBACKEND", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")


def user_environment() -> dict[str, str]:
    """Return this process's environment without what tests/conftest.py sets for the tests only."""
    return {key: value for key, value in os.environ.items() if key not in TEST_ONLY_ENV}


def free_ports(count: int = 1) -> list[int]:
    """Ports on 127.0.0.1 that are free now (held open together, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Server:
    """A server started for a test, in a session (process group) of its own, its output in a log file.

    A subclass calls :meth:`start` and says in :meth:`up` when the server answers.
    """

    name = "the server"

    def start(self, command: list[str], *, cwd: Path, env: dict[str, str], log_path: Path, seconds: float) -> None:
        """Run ``command``; return once :meth:`up` says so; fail the test with the log's tail if it never does."""
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.up():
                    return
            except OSError:  # not listening yet (urllib's and requests' errors are OSErrors)
                pass
            time.sleep(0.5)
        self.stop()
        pytest.fail(f"{self.name} did not answer within {seconds} s:\n{self.log_tail()}")

    def up(self) -> bool:
        """Return True once the server answers."""
        raise NotImplementedError

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 30) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.running():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
