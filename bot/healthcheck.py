"""`python -m bot.healthcheck`: exit 0 when the local /healthz answers 200, else 1 — the image's HEALTHCHECK.

Standard library only and no `bot` imports, so Docker's probe every 30 s costs a bare interpreter start,
and works in slim images without curl.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def probe(port: int, host: str = "127.0.0.1", timeout_s: float = 5.0) -> tuple[bool, str]:
    """GET http://host:port/healthz; return whether it answered 200 and the body or error for the log."""
    url = f"http://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return True, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return False, f"{error.code}: {error.read().decode(errors='replace')}"
    except OSError as error:
        return False, f"{url} unreachable: {error}"


def main() -> int:
    """Probe HEALTH_PORT on localhost; print the outcome (Docker keeps it in `docker inspect`)."""
    port = os.environ.get("HEALTH_PORT", "")
    if not port.isdigit():
        print("HEALTH_PORT is not set, so the health server is off; set it (the image uses 8080).")
        return 1
    healthy, detail = probe(int(port))
    print(detail)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
