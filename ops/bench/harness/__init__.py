"""What every benchmark shares: a scratch database, the composition, seeding through the command
bus, a served app, timing, percentiles and the report (its JSON line printed last).

The benchmark scripts next to this package import it as ``harness`` (Python puts a script's own
folder first on ``sys.path``); importing it puts the repository root on ``sys.path`` too, for
the project's own packages.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
