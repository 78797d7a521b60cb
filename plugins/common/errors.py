"""Errors the plugins show to the artist, and the one function that turns any failure into readable text."""
from __future__ import annotations

from chromaseg.bridge.client import (
    BridgeError,
    DaemonUnavailable,
    ProtocolMismatch,
    RequestCancelled,
    RequestFailed,
    RequestTimeout,
)


class PluginError(Exception):
    """A refusal or failure worded for the artist (no selection, unsupported color model, ...)."""


def artist_message(exc: BaseException) -> str:
    """One short paragraph an artist can act on; bugs keep their type name so a report can quote it."""
    if isinstance(exc, PluginError):
        return str(exc)
    if isinstance(exc, RequestCancelled):
        return "Cancelled. The document is unchanged."
    if isinstance(exc, DaemonUnavailable):
        return f"The chromaseg daemon is not reachable. {exc}"
    if isinstance(exc, ProtocolMismatch):
        return f"The plugin and the chromaseg daemon do not match. {exc}"
    if isinstance(exc, RequestTimeout):
        return f"The chromaseg daemon stopped answering. {exc}"
    if isinstance(exc, RequestFailed):
        return f"The chromaseg daemon could not do it. {exc}"
    if isinstance(exc, BridgeError):
        return str(exc)
    return f"Unexpected error ({type(exc).__name__}: {exc}). The document is unchanged; please report this."
