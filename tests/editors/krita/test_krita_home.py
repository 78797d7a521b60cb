"""The real-Krita tests run Krita in a home of their own: the plugin installed there by the real installer, Krita's
configuration there, nothing in the user's home or in another checkout's test run (no Krita needed here)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from krita_run import STARTUP_TRIES, KritaRunFailed, krita_home, run_krita


def test_each_run_gets_its_own_krita_home_and_plugin_install(tmp_path: Path) -> None:
    user_home = Path(os.path.expanduser("~"))
    first, second = krita_home(tmp_path / "first"), krita_home(tmp_path / "second")  # two clones' runs
    for env, root in ((first, tmp_path / "first"), (second, tmp_path / "second")):
        assert {k: Path(v) for k, v in env.items()} == {
            "HOME": root, "XDG_CONFIG_HOME": root / "config", "XDG_DATA_HOME": root / "data",
            "CHROMASEG_KRITA_PLUGIN_DIR": root / "data" / "krita" / "pykrita"}
        plugin = Path(env["CHROMASEG_KRITA_PLUGIN_DIR"])
        assert (plugin / "chromaseg_krita" / "vendor" / "chromaseg" / "plugins" / "krita").is_dir()
        assert "enable_chromaseg_krita=true" in (root / "config" / "kritarc").read_text()
        assert user_home not in Path(env["HOME"]).parents and Path(env["HOME"]) != user_home
    (Path(first["CHROMASEG_KRITA_PLUGIN_DIR"]) / "chromaseg_krita").rename(tmp_path / "first-removed")
    assert (Path(second["CHROMASEG_KRITA_PLUGIN_DIR"]) / "chromaseg_krita").is_dir()  # the other run's install


FAKE_KRITA = """#!/bin/sh
# Stands in for `xvfb-run ... kritarunner`: the first start dies where $DIES_AT says, later ones write the facts.
count=$(cat "$TRIES" 2>/dev/null || echo 0); echo $((count + 1)) > "$TRIES"
if [ "$count" -lt "$CRASHES" ]; then
  for stage in $DIES_AT; do echo "$stage" >> "$CHROMASEG_KRITA_PROGRESS"; done
  touch "$XDG_DATA_HOME/krita/resourcecache.sqlite"
  echo '*** stack smashing detected ***: terminated'; exit 134
fi
test -e "$XDG_DATA_HOME/krita/resourcecache.sqlite" && exit 3  # a retry must not reuse a half-written database
echo '{"plugin": {}}' > "$CHROMASEG_KRITA_RESULT"
"""


def fake_krita(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dies_at: str, crashes: int) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("xvfb-run", "kritarunner"):
        (bin_dir / tool).write_text(FAKE_KRITA)
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TRIES", str(tmp_path / "tries"))
    monkeypatch.setenv("DIES_AT", dies_at)
    monkeypatch.setenv("CRASHES", str(crashes))
    return krita_home(tmp_path / "home")


def test_a_krita_that_dies_in_its_start_up_is_started_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = fake_krita(tmp_path, monkeypatch, dies_at="script plugin", crashes=1)
    with pytest.warns(UserWarning, match="died in its start-up"):
        facts = run_krita(home, "tcp://127.0.0.1:1", "plugin", tmp_path / "facts.json")
    assert facts == {"plugin": {}} and (tmp_path / "tries").read_text().strip() == "2"


def test_a_krita_that_dies_in_a_scenario_fails_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = fake_krita(tmp_path, monkeypatch, dies_at="script plugin window scenario plugin scenario cancel", crashes=1)
    with pytest.raises(KritaRunFailed, match="died in scenario 'cancel'.*stack smashing"):
        run_krita(home, "tcp://127.0.0.1:1", "plugin,cancel", tmp_path / "facts.json")
    assert (tmp_path / "tries").read_text().strip() == "1"  # never run twice: a scenario's crash is a finding


def test_a_krita_that_never_starts_fails_after_a_few_tries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = fake_krita(tmp_path, monkeypatch, dies_at="", crashes=99)
    with pytest.warns(UserWarning), pytest.raises(KritaRunFailed, match=f"died {STARTUP_TRIES} times before any"):
        run_krita(home, "tcp://127.0.0.1:1", "plugin", tmp_path / "facts.json")
