"""Round trip of one 4096x4096 RGBA u8 layer (64 MiB) through the daemon's `echo` op, against PNG + base64 in JSON.

    .venv/bin/python bench/bench_echo.py [--runs 9] [--png-runs 3] [--json out.json]

Starts real daemons (loopback TCP and IPC), then times, side by side in one run:
- raw frames with pyzmq and with the pure-Python ZMTP client, over TCP and IPC;
- what HTTP image APIs do: the client encodes PNG (Pillow, default compression) + base64 inside JSON, the server
  decodes it and encodes its answer the same way, the client decodes that; carried by the same daemon over TCP, so
  the difference is the encoding alone.
The image is photo-like (smooth gradients plus sensor-like noise), not a compressible blank.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from chromaseg.bridge.client import Client, Frame

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_seconds  # noqa: E402

SIZE = 4096


def photo_like(size: int = SIZE, seed: int = 0) -> np.ndarray:
    """RGBA u8: low-frequency color gradients and blobs with mild per-pixel noise, opaque."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rgb = np.stack(
        [
            0.5 + 0.35 * np.sin(6.0 * x + 2.0 * y),
            0.5 + 0.35 * np.cos(4.0 * y - 3.0 * x * y),
            0.45 + 0.3 * np.sin(9.0 * x * y + 1.0),
        ],
        axis=-1,
    )
    rgb = rgb * 255.0 + rng.normal(0.0, 3.0, rgb.shape).astype(np.float32)
    out = np.empty((size, size, 4), np.uint8)
    out[..., :3] = np.clip(rgb, 0, 255).astype(np.uint8)
    out[..., 3] = 255
    return out


def start_daemon(endpoint: str, workdir: Path, name: str) -> tuple[subprocess.Popen, str]:
    ready = workdir / f"{name}.ready"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chromaseg.cli.serve", "--endpoint", endpoint, "--ready-file", str(ready),
         "--log-file", str(workdir / f"{name}.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the {name} daemon did not start; see {workdir / (name + '.log')}")
        time.sleep(0.05)
    endpoint = ready.read_text()
    with Client(endpoint, timeout=60) as client:  # let model loading finish: it would compete for the CPUs
        while "loading" in client.info()["models"].values():
            time.sleep(0.1)
    return proc, endpoint


def raw_echo(client: Client, image: np.ndarray) -> Callable[[], None]:
    frame = Frame.from_array(image)

    def run() -> None:
        reply = client.request("echo", {}, {"layer": frame})
        if reply.frames["layer"].nbytes != image.nbytes:
            raise AssertionError("echo returned the wrong size")

    return run


def _png_b64_json(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image, "RGBA").save(buf, format="PNG")
    return json.dumps({"image": base64.b64encode(buf.getvalue()).decode("ascii"), "format": "png"}).encode()


def _from_png_b64_json(body: bytes | memoryview) -> np.ndarray:
    doc = json.loads(bytes(body))
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(doc["image"]))))


def png_echo(client: Client, image: np.ndarray, sizes: list[int]) -> Callable[[], None]:
    """Client encode -> wire -> server decode + encode -> wire -> client decode, as an HTTP image API would."""

    def run() -> None:
        body = _png_b64_json(image)
        sizes.append(len(body))
        reply = client.request("echo", {}, {"body": Frame(body, "u8", (len(body),))})
        served = _png_b64_json(_from_png_b64_json(reply.frames["body"].data))  # the server's side of the API
        back = _from_png_b64_json(served)
        if back.shape != image.shape:
            raise AssertionError("PNG round trip changed the shape")

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=9, help="timed runs per raw configuration (median reported)")
    ap.add_argument("--png-runs", type=int, default=3, help="timed runs of the PNG + base64 JSON path")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    image = photo_like()
    mib = image.nbytes / 2**20
    rows = []
    with tempfile.TemporaryDirectory(prefix="chromaseg-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o700)
        tcp_proc, tcp_ep = start_daemon("tcp://127.0.0.1:0", work, "tcp")
        ipc_proc, ipc_ep = start_daemon(f"ipc://{work}/daemon.sock", work, "ipc")
        try:
            for transport, ep in (("tcp", tcp_ep), ("ipc", ipc_ep)):
                for backend in ("zmq", "zmtp"):
                    with Client(ep, timeout=60, backend=backend) as client:
                        _, times = median_seconds(raw_echo(client, image), args.runs, warmup=2)
                    rows.append({"method": f"raw frames, {'pyzmq' if backend == 'zmq' else 'pure-Python ZMTP'}",
                                 "backend": backend, "transport": transport, "times_s": times})
            sizes: list[int] = []
            with Client(tcp_ep, timeout=120, backend="zmq") as client:
                _, times = median_seconds(png_echo(client, image, sizes), args.png_runs, warmup=1)
            rows.append({"method": "PNG + base64 in JSON, pyzmq", "backend": "zmq", "transport": "tcp",
                         "times_s": times, "body_bytes": sizes[-1]})
        finally:
            for proc in (tcp_proc, ipc_proc):
                proc.terminate()
                proc.wait(10)

    png_median = statistics.median(rows[-1]["times_s"])
    print(f"echo round trip of a {SIZE}x{SIZE} RGBA u8 layer ({mib:.0f} MiB), median of {args.runs} runs "
          f"({args.png_runs} for PNG); CPUs: {os.cpu_count()}")
    print(f"{'method':34} {'transport':9} {'median ms':>10} {'MiB/s':>8} {'vs PNG+b64':>11}")
    for row in rows:
        med = statistics.median(row["times_s"])
        row["median_ms"] = round(med * 1000, 1)
        row["mib_per_s"] = round(mib / med, 1)  # payload size / round-trip time
        row["speedup_vs_png_b64"] = round(png_median / med, 1)
        print(f"{row['method']:34} {row['transport']:9} {row['median_ms']:10.1f} {row['mib_per_s']:8.1f} "
              f"{row['speedup_vs_png_b64']:10.1f}x")
    print(f"(PNG + base64 JSON body: {rows[-1]['body_bytes'] / 2**20:.1f} MiB per direction)")
    if args.json is not None:
        args.json.write_text(json.dumps({"image": [SIZE, SIZE, 4], "mib": mib, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
