"""`chromaseg serve`: run the daemon that editor plugins talk to (see docs/protocol.md).

Listens on the user's private IPC socket by default; `--endpoint tcp://127.0.0.1:PORT` for loopback TCP. Any other
address needs studio mode (CURVE certificates). Stops gracefully on SIGTERM / SIGINT; logs to a file.
"""
from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import signal
import sys
from pathlib import Path
from typing import Sequence


def add_arguments(p: argparse.ArgumentParser) -> None:
    from chromaseg.bridge.protocol import Budget, Limits

    d, b = Limits(), Budget()
    p.add_argument("--endpoint", default=None,
                   help="ipc://PATH, ipc://@NAME (Linux abstract socket), tcp://127.0.0.1:PORT or tcp://[::1]:PORT "
                        "(default: $CHROMASEG_ENDPOINT, else a private IPC socket in the runtime directory; port 0 "
                        "picks a free port). An existing file at PATH is never removed unless it is a stale socket")
    p.add_argument("--log-file", type=Path, default=None,
                   help="log file (default: $XDG_STATE_HOME/chromaseg/daemon.log)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--colorizer", default=None, help="colorizer checkpoint (default: the shipped weights)")
    p.add_argument("--curve-secret", type=Path, default=None,
                   help="studio mode: the daemon's ZeroMQ certificate with its secret key (.key_secret)")
    p.add_argument("--curve-clients", type=Path, default=None,
                   help="studio mode: directory of the public certificates of the clients allowed in")
    p.add_argument("--max-pixels", type=int, default=d.max_pixels, help="per frame (default %(default)s)")
    p.add_argument("--max-frames", type=int, default=d.max_frames, help="per message (default %(default)s)")
    p.add_argument("--max-message-bytes", type=int, default=d.max_message_bytes,
                   help="per message, all frames (default %(default)s)")
    p.add_argument("--max-queue", type=int, default=d.max_queue,
                   help="jobs queued or running per client (default %(default)s)")
    p.add_argument("--memory-budget", type=int, default=b.max_held_bytes,
                   help="bytes of requests queued or running and of replies not yet taken, all clients together; "
                        "past it new requests get queue_full (default %(default)s)")
    p.add_argument("--max-unread-bytes", type=int, default=b.max_unread_bytes,
                   help="per client: bytes of replies it has not taken past which further replies are dropped "
                        "(default %(default)s)")
    p.add_argument("--ready-file", type=Path, default=None,
                   help="write the bound endpoint to this file once requests are accepted")
    p.add_argument("--grace", type=float, default=5.0, help="seconds a running job gets to stop at shutdown")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the daemon the editor plugins talk to", description=__doc__)
    add_arguments(p)
    p.set_defaults(run=run)


def _setup_logging(path: Path, level: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=5 * 2**20, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("chromaseg")
    root.setLevel(level)
    root.addHandler(handler)


def _check_curve_clients(folder: Path) -> None:
    """Load the allowed artists' certificates up front: pyzmq's authenticator only logs a bad file and then lets
    nobody in, which an admin would discover one refused artist at a time."""
    import zmq.auth

    if not folder.is_dir():
        return  # the server's own check says so
    try:
        allowed = zmq.auth.load_certificates(folder)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the client certificates in {folder}: {exc}") from None
    if not allowed:
        raise ValueError(f"--curve-clients {folder} holds no certificate (*.key): no artist could connect")


def _fail(message: str, status: int = 2) -> int:
    """One line on stderr: an artist starting the daemon needs the reason, not a traceback (that goes to the log)."""
    print(f"chromaseg serve: {' '.join(message.split())}", file=sys.stderr, flush=True)
    return status


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM / SIGINT. Any startup failure (bad endpoint, address in use, unreadable certificates,
    an unwritable log) is one line on stderr and exit status 2; a failure while serving, one line and status 1."""
    from chromaseg.bridge.endpoint import default_endpoint, default_log_path
    from chromaseg.bridge.protocol import Budget, Limits
    from chromaseg.bridge.daemon.server import ConfigError, Server, ServerConfig

    log = logging.getLogger("chromaseg.serve")
    log_file = (args.log_file or default_log_path()).absolute()  # absolute: `info` hands it to clients elsewhere
    try:
        _setup_logging(log_file, args.log_level)
    except OSError as exc:
        return _fail(f"cannot write the log file {log_file}: {exc.strerror or exc}")
    try:
        config = ServerConfig(
            endpoint=args.endpoint or default_endpoint(),
            limits=Limits(
                max_pixels=args.max_pixels,
                max_frames=args.max_frames,
                max_message_bytes=args.max_message_bytes,
                max_queue=args.max_queue,
            ),
            budget=Budget(max_held_bytes=args.memory_budget, max_unread_bytes=args.max_unread_bytes),
            colorizer=args.colorizer,
            curve_secret=args.curve_secret,
            curve_clients=args.curve_clients,
            ready_file=args.ready_file,
            grace=args.grace,
            log_file=log_file,
        )
        if config.curve_clients is not None:
            _check_curve_clients(config.curve_clients)
        server = Server(config)
    except (ConfigError, OSError, ValueError) as exc:
        log.error("cannot start: %s", exc)
        return _fail(str(exc))
    except Exception as exc:  # a bug, not a configuration problem: the traceback goes to the log
        log.exception("cannot start")
        return _fail(f"cannot start: {type(exc).__name__}: {exc} (traceback in {log_file})")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stop())
    print(f"chromaseg daemon on {server.bound_endpoint} (log: {log_file})", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except Exception as exc:  # e.g. an unwritable --ready-file; the daemon has already shut down cleanly
        log.exception("stopped on an error")
        return _fail(f"stopped: {type(exc).__name__}: {exc} (details in {log_file})", status=1)
    if server.worker.alive:  # still loading models or in a job past its grace: finalizing Python under it can abort
        logging.shutdown()
        sys.stderr.flush()
        os._exit(0)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m chromaseg.cli.serve`: the same command without loading the other subcommands."""
    parser = argparse.ArgumentParser(prog="chromaseg serve", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
