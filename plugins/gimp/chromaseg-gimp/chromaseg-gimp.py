#!/usr/bin/env python3
"""GIMP 3 runs this file (its name matches its folder, as GIMP requires). The installer put chromaseg's client-side
modules in vendor/ beside it: that copy goes first on sys.path, so the plug-in runs the client it was installed with."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor"))

from chromaseg.plugins.gimp import procedures  # noqa: E402,F401  (registers the procedures, gimpfu style)
from chromaseg.plugins.gimp.gimpfu import main  # noqa: E402

main()
