"""Where things are in the checkout."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FUNCTIONS = ROOT / "functions"
# Where a running local cloud leaves its settings, logs and the demo key (tests point it elsewhere).
LOCAL_STATE = Path(os.environ.get("CASHLINE_LOCAL_STATE_DIR") or ROOT / ".local")
NODE_MODULES = ROOT / "node_modules"
