"""Runs one `Plan` at a time for an editor's UI: `start`, then `pump()` from a UI timer until the update is final.

Nothing here blocks for long: the daemon is started detached (through the bridge's one launcher) and probed from the
timer, jobs are polled without waiting, and only `Plan.apply` (writing the result into the document) runs on the pump
that sees the reply. A daemon found dead while a plan is sent or running (the client notices within about 2 s) is
started again when autostart is on, and the plan is sent once more.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable

from chromaseg.bridge.client import AccessDenied, BridgeError, Client, DaemonUnavailable, Job, RequestCancelled
from chromaseg.bridge.contract import ColorizerInfo
from chromaseg.plugins.common import daemon
from chromaseg.plugins.common.actions import Plan
from chromaseg.plugins.common.errors import PluginError, artist_message
from chromaseg.plugins.common.settings import Settings

START_TIMEOUT = 120.0  # seconds an auto-started daemon may take to answer (model loading on a slow CPU)
STATUS_TIMEOUT = 1.0  # seconds the docker's status line waits: info is answered by the socket loop, never queued


class State(str, Enum):
    IDLE = "idle"
    STARTING = "starting"  # the daemon is being started
    RUNNING = "running"  # the job is queued or running in the daemon
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (State.IDLE, State.DONE, State.FAILED, State.CANCELLED)


@dataclass(frozen=True)
class Update:
    """What the UI shows: the state, a line of text, and progress in [0, 1] (None: unknown, show a busy bar)."""

    state: State
    message: str
    fraction: float | None = None


ClientFactory = Callable[[str], Client]


class Runner:
    """One daemon connection and at most one job; call `pump()` from a timer while `busy`."""

    def __init__(self, settings: Settings, client_factory: ClientFactory = Client) -> None:
        self.settings = settings
        self._client_factory = client_factory
        self._client: Client | None = None
        self._plan: Plan | None = None
        self._job: Job | None = None
        self._process = None
        self._deadline = 0.0
        self._retried = False  # the current plan was sent once more after its daemon died
        self._update = Update(State.IDLE, "")
        self.colorizer: ColorizerInfo | None = None  # the daemon's colorizer defaults, from its last `info`
        self.colorizers: list[str] = []  # the published colorizers the daemon has installed, from its last `info`

    @property
    def busy(self) -> bool:
        return not self._update.state.final

    @property
    def endpoint(self) -> str:
        return daemon.resolve_endpoint(self.settings.endpoint)

    def start(self, plan: Plan) -> Update:
        """Submit `plan` (starting the daemon first when needed and allowed)."""
        if self.busy:
            return Update(self._update.state, "A job is already running: wait for it or cancel it.", None)
        self._plan, self._job, self._retried = plan, None, False
        try:
            if self._connected_to_endpoint() or daemon.reachable(self.endpoint):
                return self._submit()
            return self._start_daemon()
        except Exception as exc:
            return self._recover(exc)

    def pump(self) -> Update:
        """Advance the current job without blocking; returns what the UI should show now."""
        try:
            if self._update.state is State.STARTING:
                return self._pump_starting()
            if self._update.state is State.RUNNING:
                return self._pump_running()
        except Exception as exc:
            return self._recover(exc)
        return self._update

    def cancel(self) -> Update:
        """Stop waiting for the daemon, or ask it to stop the job; the document stays as it was."""
        if self._update.state is State.STARTING:
            return self._set(State.CANCELLED, artist_message(RequestCancelled("cancelled", "")))
        if self._update.state is State.RUNNING and self._job is not None:
            self._retried = True  # a job being cancelled is not sent again should its daemon die
            try:
                self._job.cancel()
            except BridgeError as exc:
                return self._fail(exc)
            return self._set(State.RUNNING, f"{self._plan.title if self._plan else 'Job'}: cancelling...", None)
        return self._update

    def daemon_status(self) -> str:
        """A line for the docker: whether the daemon runs, its version, device and models (one quick round trip);
        keeps what `info` says of the colorizer's defaults in `colorizer`."""
        if not daemon.reachable(self.endpoint):
            how = "it starts on first use" if self.settings.autostart else "start it with `chromaseg serve`"
            return f"Daemon not running at {self.endpoint} ({how})."
        try:
            info = self._connected().submit("info").wait(STATUS_TIMEOUT).result
        except BridgeError as exc:
            return f"Daemon at {self.endpoint} does not answer: {exc}"
        self.colorizer = ColorizerInfo.from_info(info)
        names = info.get("colorizers")
        self.colorizers = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
        models = ", ".join(f"{name} {state.split(' ')[0].rstrip(':')}" for name, state in
                           info.get("models", {}).items())
        jobs = info.get("jobs") or {}
        load = "busy" if jobs.get("running") else "idle"
        if jobs.get("queued"):
            load += f", {jobs['queued']} queued"
        where = f"{info.get('version', '?')} on {info.get('device', '?')}"
        return f"Daemon {where}: {models}{_segments_note(info)}; {load}."

    def close(self) -> None:
        """Drop the connection (a running job is cancelled by the daemon when its client disconnects)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- internals ----------------------------------------------------------------------------------------------

    def _connected_to_endpoint(self) -> bool:
        client = self._client
        return client is not None and client.server_info is not None and client.endpoint == self.endpoint

    def _connected(self) -> Client:
        if self._client is None or self._client.endpoint != self.endpoint:
            self.close()
            self._client = self._client_factory(self.endpoint)
        self._client.connect()
        return self._client

    def _start_daemon(self) -> Update:
        """Launch the daemon (when autostart allows) and wait for it from the timer (STARTING)."""
        assert self._plan is not None
        if not self.settings.autostart:
            raise PluginError(
                f"The chromaseg daemon is not running at {self.endpoint}. Start it with `chromaseg serve`, or "
                "turn on autostart in the plugin's settings."
            )
        command = daemon.start_command(self.settings.command(), self.endpoint, daemon.installed_command())
        self._process = daemon.launch(command)
        self._deadline = time.monotonic() + START_TIMEOUT
        return self._set(State.STARTING, f"{self._plan.title}: starting the chromaseg daemon...")

    def _recover(self, exc: BaseException) -> Update:
        """The daemon died (connection lost, nothing listening): send the plan once more, to a daemon that is back or
        one started again (autostart); any other failure, or a second death, is final."""
        died = isinstance(exc, DaemonUnavailable) and not isinstance(exc, AccessDenied)
        launched = self._job is None and self._update.state is State.STARTING  # the one we started did not come up
        if not died or launched or self._retried or self._plan is None:
            return self._fail(exc)
        self._retried = True
        self.close()
        try:
            return self._submit() if daemon.reachable(self.endpoint) else self._start_daemon()
        except Exception as again:
            return self._fail(again)

    def _submit(self) -> Update:
        assert self._plan is not None
        self._job = self._connected().submit(self._plan.op, self._plan.params, self._plan.frames)
        return self._set(State.RUNNING, f"{self._plan.title}: sent to the daemon...", None)

    def _pump_starting(self) -> Update:
        if daemon.reachable(self.endpoint):
            try:
                return self._submit()
            except DaemonUnavailable:
                pass  # bound but not answering yet
        code = self._process.poll() if self._process is not None else None
        if code is not None:
            raise PluginError(
                f"The chromaseg daemon exited at start (status {code}); see its log, or run `chromaseg serve` in a "
                "terminal to read why."
            )
        if time.monotonic() > self._deadline:
            raise PluginError(f"The chromaseg daemon did not answer within {START_TIMEOUT:g} s of being started.")
        return self._update

    def _pump_running(self) -> Update:
        assert self._job is not None and self._plan is not None
        reply = self._job.poll()
        if reply is None:
            return self._set(State.RUNNING, _describe(self._plan.title, self._job), _fraction(self._job))
        message = self._plan.apply(reply)
        return self._set(State.DONE, message, 1.0)

    def _set(self, state: State, message: str, fraction: float | None = None) -> Update:
        self._update = Update(state, message, fraction)
        if state.final:
            self._plan = self._job = None  # the frames' buffers can go now
        return self._update

    def _fail(self, exc: BaseException) -> Update:
        if isinstance(exc, DaemonUnavailable):
            self.close()
        state = State.CANCELLED if isinstance(exc, RequestCancelled) else State.FAILED
        return self._set(state, artist_message(exc))


def _segments_note(info: dict[str, Any]) -> str:
    """Says so when selections come from the classical fallback, and how to get SAM instead."""
    segmenter = info.get("segmenter")
    if isinstance(segmenter, dict) and segmenter.get("backend") == "classic":
        return (" (segments: classical fallback; for SAM: pip install segment-anything, then "
                "`chromaseg weights fetch mobilesam`)")
    return ""


def _describe(title: str, job: Job) -> str:
    p = job.progress
    if p is None:
        return f"{title}: waiting for the daemon..."
    if p.stage == "queued":
        return f"{title}: queued (position {p.extra.get('position', '?')})"
    return f"{title}: {p.stage} {p.done}/{p.total}" if p.total else f"{title}: {p.stage}"


def _fraction(job: Job) -> float | None:
    p = job.progress
    return p.fraction if p is not None and p.total else None
