"""Runs one `plugins.common` Plan to the end inside a GIMP procedure: GIMP wants a plug-in's result before the
procedure returns, so the shared Runner is pumped here in a loop while GIMP's progress bar shows how far it got.

The plug-in is its own process, so waiting here never freezes GIMP's interface. GIMP answers the Cancel button of its
progress bar by killing the plug-in (a quit message, then SIGKILL 10 ms later), which leaves no moment to tell the
daemon; a `CancelGuard` does it instead.
"""
from __future__ import annotations

import os
import time

from chromaseg.bridge.client import Client
from chromaseg.plugins.common.actions import Plan
from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.runner import ClientFactory, Runner, State
from chromaseg.plugins.common.settings import Settings
from chromaseg.plugins.gimp.gimpfu import gimp

POLL_SECONDS = 0.05

_client_factory: ClientFactory | None = None


def _forkable_client(endpoint: str) -> Client:
    """The pure-Python client: its connection is a plain socket, which a forked `CancelGuard` can still write to
    (pyzmq's I/O threads do not survive a fork)."""
    return Client(endpoint, backend="zmtp")


class CancelGuard:
    """A forked copy of the plug-in that waits while the daemon works on its job. It shares the plug-in's connection
    (the same socket, so the daemon sees the same client): when the plug-in dies without saying the job is over (GIMP
    killed it: the artist pressed Cancel), the copy asks the daemon to cancel the job, then exits.

    Without `os.fork` (Windows) there is no guard: the daemon then drops the job once it finds the plug-in gone."""

    def __init__(self, runner: Runner) -> None:
        self._pid = 0
        self._over = -1
        if not hasattr(os, "fork"):
            return
        watch, self._over = os.pipe()
        pid = os.fork()
        if pid == 0:  # the guard: wait for a word (the job is over) or the end of the pipe (the plug-in died)
            os.close(self._over)
            try:
                if not os.read(watch, 1):
                    runner.cancel()
            finally:
                os._exit(0)
        os.close(watch)
        self._pid = pid

    def release(self) -> None:
        """The job is over (done, failed or cancelled here): the guard exits without touching the daemon."""
        if self._pid:
            os.write(self._over, b"x")
            os.close(self._over)
            os.waitpid(self._pid, 0)
            self._pid = 0


def use_client_factory(factory: ClientFactory | None) -> None:
    """Tests hand in their own Client maker (e.g. a pure-Python ZMTP client); None restores the default."""
    global _client_factory
    _client_factory = factory


def run_plan(plan: Plan, settings: Settings) -> str:
    """Submit `plan`, show progress until the daemon answers and the result is written; returns the status line.

    Raises PluginError with the artist-facing message when the job failed or was cancelled (nothing was written).
    """
    runner = Runner(settings, _client_factory or _forkable_client)
    guard: CancelGuard | None = None
    gimp.progress_init(f"{plan.title}...")
    try:
        update = runner.start(plan)
        while runner.busy:
            if guard is None and update.state is State.RUNNING:  # submitted: the daemon now works on the job
                guard = CancelGuard(runner)
            time.sleep(POLL_SECONDS)
            update = runner.pump()
            gimp.progress_set_text(update.message)
            if update.fraction is None:
                gimp.progress_pulse()
            else:
                gimp.progress_update(update.fraction)
    finally:
        if guard is not None:
            guard.release()
        runner.close()
        gimp.progress_end()
    if update.state is not State.DONE:
        raise PluginError(update.message)
    return update.message
