"""newsetl: article feeds and post archives into a clean DuckDB warehouse, orchestrated by Prefect."""

import os

__version__ = "0.1.0"

# Defaults for a clean local run wherever newsetl is started from (prefect.toml only applies in the project
# folder). Explicit environment settings still win.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect's client-side telemetry (and the notice it prints on a terminal): off, as the server's.
os.environ.setdefault("DO_NOT_TRACK", "1")
