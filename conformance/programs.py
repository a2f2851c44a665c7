"""Running the implementations under test as real processes.

``run`` is for programs that finish (list-pods); ``Watcher`` wraps a
long-running one (watch-pods), reading its stdout on a thread so the test can
wait, with a deadline, for the lines it expects.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import yaml

from implementations import command
from kube import wait_for

RUN_TIMEOUT_SECONDS = 120


def environment(cluster, kubeconfig: Path | None) -> dict[str, str]:
    """The pinned kubectl first on PATH (the Bash track uses it), KUBECONFIG set."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(cluster.kubectl).parent}{os.pathsep}{env.get('PATH', '')}"
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return env


def insecure_kubeconfig(cluster, path: Path) -> Path:
    """The suite's kubeconfig with TLS verification turned off (``insecure-skip-tls-verify: true``, and so no
    CA, which kubectl would refuse beside the flag): a program that honoured it would work and exit 0."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    for entry in config["clusters"]:
        entry["cluster"].pop("certificate-authority", None)
        entry["cluster"].pop("certificate-authority-data", None)
        entry["cluster"]["insecure-skip-tls-verify"] = True
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def argv_for(track: str, language: str, args: list[str]) -> list[str]:
    prefix = command(track, language)
    assert prefix is not None, f"no {language} implementation of {track}"
    return [*prefix, *args]


def run(cluster, track: str, language: str, args: list[str], env: dict[str, str] | None = None):
    """Run a program to completion with the admin kubeconfig unless ``env`` says otherwise."""
    return subprocess.run(
        argv_for(track, language, args),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        env=env or environment(cluster, cluster.kubeconfig),
        stdin=subprocess.DEVNULL,
    )


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


class Watcher:
    """A running watch-pods process and the JSON lines it has printed so far."""

    def __init__(self, cluster, language: str, args: list[str], kubeconfig: Path | None = None):
        self.language = language
        self._stderr_file = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the watcher
        self.process = subprocess.Popen(
            argv_for("intermediate", language, args),
            stdout=subprocess.PIPE,
            # A file, not a pipe: a chatty stderr must never block the watcher.
            stderr=self._stderr_file,
            stdin=subprocess.DEVNULL,
            text=True,
            env=environment(cluster, kubeconfig or cluster.kubeconfig),
        )
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    @property
    def events(self) -> list[dict]:
        with self._lock:
            return [json.loads(line) for line in self._lines if line.strip()]

    def wait_for_event(self, predicate, timeout: float, what: str) -> list[dict]:
        def seen():
            if self.process.poll() is not None and not any(predicate(e) for e in self.events):
                raise AssertionError(f"{self.language} watcher exited {self.process.returncode}: {self.stderr()}")
            return any(predicate(e) for e in self.events) and self.events

        return wait_for(seen, timeout=timeout, what=f"{self.language} watcher to print {what}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise AssertionError(
                f"{self.language} watcher still running {timeout}s after being told to stop"
            ) from error
        self._reader.join(timeout=5)
        return code

    def stderr(self) -> str:
        self._stderr_file.seek(0)
        return self._stderr_file.read()

    def stop(self) -> None:
        """Teardown: never leave a watcher behind, whatever the test did."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            if self.process.stdout:
                self._reader.join(timeout=5)
