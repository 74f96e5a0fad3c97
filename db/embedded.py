"""An embedded PostgreSQL (the `pgserver` package) for machines without DATABASE_URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path(".caravan") / "pgdata"


def start_embedded(
    data_dir: Path = DEFAULT_DATA_DIR, *, keep_running: bool = False
) -> tuple[str, Any]:
    """Start (or join) the embedded server; return its URL and a handle to keep alive.

    With keep_running the server outlives this process (demo data stays warm between runs);
    otherwise it stops when the last process holding a handle exits.
    """
    import pgserver  # imported here: only needed when no DATABASE_URL is given

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir.resolve(), cleanup_mode=None if keep_running else "stop")
    return server.get_uri(), server
