"""The real-Krita tests run Krita in a home of their own: the plugin installed there by the real installer, Krita's
configuration there, nothing in the user's home or in another checkout's test run (no Krita needed here)."""
from __future__ import annotations

import os
from pathlib import Path

from krita_run import krita_home


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
