"""Helpers for the bridge tests: real daemons in subprocesses, and test images."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chromaseg.bridge.client import Client


@dataclass
class Daemon:
    proc: subprocess.Popen
    endpoint: str
    log: Path

    def client(self, backend: str | None = None, timeout: float = 20.0) -> Client:
        return Client(self.endpoint, timeout=timeout, backend=backend)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def serve_command(endpoint: str, workdir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "chromaseg.cli.serve", "--endpoint", endpoint, "--log-file",
            str(workdir / "daemon.log"), "--ready-file", str(workdir / "ready"), *extra]


def start_daemon(workdir: Path, endpoint: str = "tcp://127.0.0.1:0", *extra: str, wait_models: bool = True,
                 env: dict[str, str] | None = None, memory_limit: int | None = None) -> Daemon:
    """A daemon subprocess serving on ``endpoint``; ``env`` is added to this process's environment;
    ``memory_limit`` (bytes of address space, RLIMIT_AS) makes runaway allocations fail instead of swapping."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o700)
    ready = workdir / "ready"
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen(serve_command(endpoint, workdir, *extra), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
                            preexec_fn=limit_memory if memory_limit else None)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited {proc.returncode}: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("daemon did not start within 60 s")
        time.sleep(0.02)
    daemon = Daemon(proc, ready.read_text(), workdir / "daemon.log")
    if wait_models:  # model loading competes for the 2 CPUs; tests are steadier once it is over
        with daemon.client() as c:
            while "loading" in c.info()["models"].values():
                time.sleep(0.05)
    return daemon


def memory_kib(pid: int, field: str = "VmRSS") -> int:
    """A process's memory figure from /proc (VmRSS: resident now, VmHWM: peak resident), in KiB."""
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(f"{field}:"))


def assert_no_internal(daemon: Daemon) -> None:
    """`internal` means a bug in the daemon: no test may have caused one, even where it only checked that an error
    came back (the daemon names every such answer in its log)."""
    text = daemon.log.read_text(errors="replace") if daemon.log.exists() else ""
    assert "answered internal" not in text, f"the daemon answered `internal`; see {daemon.log}"


def photo(h: int, w: int, channels: int = 4, dtype: type = np.uint8, seed: int = 0) -> np.ndarray:
    """A smooth, colorful, noisy test image in the given dtype."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([0.5 + 0.4 * np.sin(x / 9), 0.5 + 0.4 * np.cos(y / 7), 0.5 + 0.3 * np.sin((x + y) / 13)], -1)
    base = np.clip(base + rng.normal(0, 0.02, base.shape), 0, 1).astype(np.float32)
    if channels == 4:
        base = np.concatenate([base, rng.uniform(0.2, 1, (h, w, 1)).astype(np.float32)], -1)
    elif channels == 0:
        base = base[..., 0]
    if dtype == np.float32:
        return base
    top = np.iinfo(dtype).max
    return np.rint(base * top).astype(dtype)


def halves(h: int, w: int, dtype: type = np.int32) -> np.ndarray:
    """A label map: left half segment 1, right half segment 2 (0 would be 'no segment')."""
    seg = np.ones((h, w), dtype)
    seg[:, w // 2 :] = 2
    return seg
