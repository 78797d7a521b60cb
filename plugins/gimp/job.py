"""Runs one `plugins.common` Plan to the end inside a GIMP procedure: GIMP wants a plug-in's result before the
procedure returns, so the shared Runner is pumped here in a loop while GIMP's progress bar shows how far it got.

The plug-in is its own process, so waiting here never freezes GIMP's interface.
"""
from __future__ import annotations

import time

from chromaseg.plugins.common.actions import Plan
from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.runner import ClientFactory, Runner, State
from chromaseg.plugins.common.settings import Settings
from chromaseg.plugins.gimp.gimpfu import gimp

POLL_SECONDS = 0.05

_client_factory: ClientFactory | None = None


def use_client_factory(factory: ClientFactory | None) -> None:
    """Tests hand in their own Client maker (e.g. a pure-Python ZMTP client); None restores the default."""
    global _client_factory
    _client_factory = factory


def run_plan(plan: Plan, settings: Settings) -> str:
    """Submit `plan`, show progress until the daemon answers and the result is written; returns the status line.

    Raises PluginError with the artist-facing message when the job failed or was cancelled (nothing was written).
    """
    runner = Runner(settings, _client_factory) if _client_factory is not None else Runner(settings)
    gimp.progress_init(f"{plan.title}...")
    try:
        update = runner.start(plan)
        while runner.busy:
            time.sleep(POLL_SECONDS)
            update = runner.pump()
            gimp.progress_set_text(update.message)
            if update.fraction is None:
                gimp.progress_pulse()
            else:
                gimp.progress_update(update.fraction)
    finally:
        runner.close()
        gimp.progress_end()
    if update.state is not State.DONE:
        raise PluginError(update.message)
    return update.message
