"""Running the real `kubectl` against a kubeconfig, with its own cache folder and a time bound."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from demo.waiting import DemoError
from testbed.binaries import BinariesError, ensure_binaries

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Result:
    """What one kubectl call printed and how it ended."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def command(self) -> str:
        return "kubectl " + " ".join(self.args)

    def check(self) -> Result:
        """Raise with kubectl's own words when it failed."""
        if self.code != 0:
            raise DemoError(f"`{self.command}` failed (exit code {self.code}):\n{self.stderr.strip()}")
        return self


def find_kubectl() -> str:
    """The kubectl built with the control plane (same version as its API server)."""
    try:
        return str(ensure_binaries(progress=lambda line: print(line, file=sys.stderr, flush=True)).kubectl)
    except BinariesError as e:
        raise DemoError(str(e)) from e


class Kubectl:
    """kubectl bound to one kubeconfig; discovery and HTTP caches stay in `cache_dir`."""

    def __init__(
        self, kubeconfig: Path, cache_dir: Path, cwd: Path | None = None, binary: str | None = None
    ) -> None:
        self.binary = binary or find_kubectl()
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir
        self.cwd = cwd
        """Relative file names (`-f examples/`) resolve here; the caller's directory by default."""

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Result:
        argv = [self.binary, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args]
        try:
            done = subprocess.run(
                argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.cwd
            )
        except subprocess.TimeoutExpired as e:
            raise DemoError(f"`kubectl {' '.join(args)}` did not finish within {timeout:g}s") from e
        return Result(tuple(args), done.returncode, done.stdout, done.stderr)
