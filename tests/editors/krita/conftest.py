"""Real-Krita tests: the plugin installed by `chromaseg install-plugin krita`, run inside kritarunner under Xvfb."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bridge"))  # bridge_helpers: one copy, reused
