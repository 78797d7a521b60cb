"""What the menu and the docker call: run a command on the active document, pump its job from a timer, tell the
listeners (the docker) what happens. Qt-free: the timer comes in through `Timer`, so this is tested on the fake."""
from __future__ import annotations

from typing import Callable, Protocol

from chromaseg.bridge.contract import ColorizerInfo
from chromaseg.plugins.common.actions import Plan
from chromaseg.plugins.common.commands import BY_KEY
from chromaseg.plugins.common.errors import artist_message
from chromaseg.plugins.common.preview import PreviewImage
from chromaseg.plugins.common.runner import Runner, State, Update
from chromaseg.plugins.common.settings import Settings
from chromaseg.plugins.krita.document import KritaDocument
from chromaseg.plugins.krita.settings_store import load_settings, save_settings

PUMP_INTERVAL_MS = 50  # a job is pumped 20 times a second: smooth progress, no measurable cost to the UI


class Timer(Protocol):
    """A repeating UI timer (QTimer in Krita)."""

    def start(self, interval_ms: int) -> None: ...

    def stop(self) -> None: ...


Listener = Callable[[Update], None]


class Controller:
    """One per Krita instance: the settings, the daemon runner, the job in flight, and the last preview."""

    def __init__(self, timer: Timer, runner: Runner | None = None) -> None:
        self.timer = timer
        self.runner = runner or Runner(load_settings())
        self._listeners: list[Listener] = []
        self._plan: Plan | None = None
        self.last = Update(State.IDLE, "Ready.")
        self.preview: PreviewImage | None = None  # the last Preview's images, set before the listeners hear it is done

    @property
    def settings(self) -> Settings:
        return self.runner.settings

    @property
    def colorizer(self) -> ColorizerInfo | None:
        """The daemon's colorizer defaults (its own vibrancy), as its last status said; None until one answered."""
        return self.runner.colorizer

    @property
    def colorizers(self) -> list[str]:
        """The published colorizers the daemon has installed, as its last status said."""
        return self.runner.colorizers

    def update_settings(self, settings: Settings) -> None:
        """Keep and store new settings (they apply to the next command)."""
        self.runner.settings = settings
        save_settings(settings)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)
        listener(self.last)

    def run(self, key: str) -> Update:
        """Run the command `key` (see common.commands) on the active document and layer."""
        if self.runner.busy:
            return self._tell(Update(self.last.state, "A job is already running: wait for it or cancel it.",
                                     self.last.fraction))
        try:
            command = BY_KEY[key]
            outcome = command.run(KritaDocument.active(command.source), self.settings)
        except Exception as exc:  # a refusal (PluginError) or a bug: either way nothing was written
            return self._tell(Update(State.FAILED, artist_message(exc)))
        if not isinstance(outcome, Plan):
            return self._tell(Update(State.DONE, outcome, 1.0))
        self._plan = outcome
        update = self._tell(self.runner.start(outcome))
        if self.runner.busy:
            self.timer.start(PUMP_INTERVAL_MS)
        else:
            self._plan = None
        return update

    def apply_preview(self) -> Update:
        """Apply: what the last preview showed, at full resolution (Colorize Selection when it was of a selection,
        else Colorize Layer), with the options as they are now."""
        if self.preview is None:
            return self._tell(Update(State.FAILED, "Preview first: Apply colorizes what the preview shows."))
        return self.run("colorize_selection" if self.preview.selection else "colorize_layer")

    def tick(self) -> Update:
        """The timer's callback: advance the job, stop the timer once it is over."""
        update = self.runner.pump()
        if update.state is State.DONE and self._plan is not None and self._plan.preview is not None:
            self.preview = self._plan.preview
        if not self.runner.busy:
            self.timer.stop()
            self._plan = None
        return self._tell(update)

    def cancel(self) -> Update:
        update = self.runner.cancel()
        if not self.runner.busy:
            self.timer.stop()
            self._plan = None
        return self._tell(update)

    def daemon_status(self) -> str:
        """One line about the daemon, for the docker (skipped while a job runs: the job's updates say enough)."""
        return "Daemon busy with this editor's job." if self.runner.busy else self.runner.daemon_status()

    def close(self) -> None:
        self.timer.stop()
        self.runner.close()

    def _tell(self, update: Update) -> Update:
        self.last = update
        for listener in self._listeners:
            listener(update)
        return update
