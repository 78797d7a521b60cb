"""Krita's entry to the chromaseg plugin: the vendored chromaseg tree (bridge client + plugin, copied here by
`chromaseg install-plugin krita`) goes first on sys.path, then the extension and docker register themselves."""
import os
import sys

_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor")
if _VENDOR not in sys.path:
    sys.path.insert(0, _VENDOR)

from chromaseg.plugins.krita.extension import register  # noqa: E402

register()
