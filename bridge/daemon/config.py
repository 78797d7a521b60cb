"""The daemon's configuration and the refusal of one that would expose it (non-loopback without CURVE)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

from chromaseg.bridge.endpoint import parse_endpoint
from chromaseg.bridge.protocol import Budget, Limits


class ConfigError(Exception):
    """The daemon cannot start with this configuration; the message says how to fix it."""


@dataclass
class ServerConfig:
    endpoint: str
    limits: Limits = field(default_factory=Limits)
    budget: Budget = field(default_factory=Budget)
    colorizer: str | None = None  # checkpoint path; None: the shipped weights
    curve_secret: Path | None = None  # the daemon's certificate (with its secret key), studio mode
    curve_clients: Path | None = None  # directory of the certificates of the artists allowed in
    ready_file: Path | None = None  # written with the bound endpoint once the daemon accepts requests
    grace: float = 5.0  # seconds a running job gets to stop at shutdown
    log_file: Path | None = None  # where `chromaseg serve` logs; in `info`, so clients name the right file

    @property
    def curve(self) -> bool:
        return self.curve_secret is not None or self.curve_clients is not None


def check_config(config: ServerConfig) -> None:
    """Refuse what would expose the daemon: non-loopback without CURVE, half-configured CURVE."""
    try:
        ep = parse_endpoint(config.endpoint)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if config.curve and (config.curve_secret is None or config.curve_clients is None):
        raise ConfigError("studio mode needs both --curve-secret (the daemon's certificate) and --curve-clients")
    if not ep.is_loopback and not config.curve:
        raise ConfigError(
            f"refusing to listen on {config.endpoint}: it is reachable from other machines and anyone there could "
            "send jobs. Use the default IPC socket or tcp://127.0.0.1, or set up studio mode with "
            "--curve-secret and --curve-clients (see docs/protocol.md)."
        )
    if config.curve and not zmq.has("curve"):
        raise ConfigError("this libzmq was built without CURVE support; studio mode is unavailable")


def package_version() -> str:
    """The installed chromaseg version, for `info` and `ping`."""
    try:
        from importlib.metadata import version

        return version("chromaseg")
    except Exception:
        return "0+unknown"


def setup_curve(ctx: zmq.Context, config: ServerConfig, sock: zmq.Socket) -> Any:
    """Studio mode on `sock`: the daemon's certificate and an authenticator admitting the clients' certificates.
    Returns the running authenticator (stopped at shutdown); ConfigError when a certificate is unusable."""
    from zmq.auth import load_certificate
    from zmq.auth.thread import ThreadAuthenticator

    assert config.curve_secret is not None and config.curve_clients is not None
    try:
        public, secret = load_certificate(config.curve_secret)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the daemon certificate {config.curve_secret}: {exc}") from None
    if secret is None:
        raise ConfigError(f"{config.curve_secret} has no secret key: pass the .key_secret certificate")
    if not config.curve_clients.is_dir():
        raise ConfigError(f"--curve-clients {config.curve_clients} is not a directory of certificates")
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(config.curve_clients))
    sock.curve_server = True
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    return auth
