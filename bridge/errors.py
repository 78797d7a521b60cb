"""The errors the bridge client raises: each says what the user can do about it (standard library only)."""
from __future__ import annotations

from chromaseg.bridge.protocol import ErrorCode


class BridgeError(Exception):
    """Base of every error the client raises."""


class DaemonUnavailable(BridgeError):
    """Nothing answers at the endpoint, or the connection to the daemon was lost."""


class AccessDenied(DaemonUnavailable):
    """A daemon answers but refuses this client's security handshake (CURVE keys missing, unknown or wrong).

    A DaemonUnavailable too, so plugins that handle that keep working; the message names the keys, not a missing
    daemon, and autostart does not start a second daemon over it."""


class ProtocolMismatch(BridgeError):
    """The daemon and this plugin speak different protocol versions."""


class RequestTimeout(BridgeError):
    """The daemon stayed silent for longer than the client's timeout."""


class RequestFailed(BridgeError):
    """The daemon answered with an error; `code` is one of protocol.ErrorCode's stable strings."""

    _ADVICE = {
        ErrorCode.TOO_LARGE.value: "Reduce the image or selection, or start the daemon with higher limits "
        "(chromaseg serve --max-pixels / --max-message-bytes).",
        ErrorCode.QUEUE_FULL.value: "Wait for this editor's running jobs to finish, or cancel one.",
        ErrorCode.UNAVAILABLE.value: "Install the missing model (chromaseg weights fetch NAME); a published "
        "colorizer is picked up by the next request, the colorizer and segmenter the daemon starts with by a restart.",
        ErrorCode.UNSUPPORTED_VERSION.value: "Install the same chromaseg release for the plugin and the daemon.",
        ErrorCode.SHUTTING_DOWN.value: "The daemon is stopping; start it again with `chromaseg serve`.",
        ErrorCode.INTERNAL.value: "This is a bug in the daemon: see its log file and report it.",
    }

    def __init__(self, code: str, message: str, request_id: str | None = None, op: str | None = None) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        self.op = op
        advice = self._ADVICE.get(code, "")
        super().__init__(f"{op or 'request'} failed [{code}]: {message}" + (f" {advice}" if advice else ""))


class RequestCancelled(RequestFailed):
    """The job was cancelled by `Job.cancel` (a daemon shutting down answers `shutting_down` instead)."""
