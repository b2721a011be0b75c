"""What the bot tells the health server about itself.

A Protocol the bot implements, so that this package depends on no bot internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


class HealthProbe(Protocol):
    """Implemented by the bot; each method must be cheap and must not block (it runs on the event loop)."""

    def gateway_connected(self) -> bool:
        """True while the Discord gateway session is up."""
        ...

    def worker_alive(self) -> bool:
        """True while the GPU worker loop is running (idle counts as alive)."""
        ...

    def model_loaded(self) -> bool:
        """True once the pipeline is loaded (or when this process hosts no engine)."""
        ...


@dataclass(frozen=True)
class HealthReport:
    """One reading of every check; `failed` names the checks that are not ok."""

    gateway: bool
    worker: bool
    model_loaded: bool

    @property
    def failed(self) -> list[str]:
        """Names of the failing checks, as in the /healthz JSON."""
        checks = {"gateway": self.gateway, "worker": self.worker, "model_loaded": self.model_loaded}
        return [name for name, ok in checks.items() if not ok]

    @property
    def ok(self) -> bool:
        """True when every check passes."""
        return not self.failed


def read_probe(probe: HealthProbe) -> HealthReport:
    """Ask each check once; a check that raises counts as failed, so /healthz answers 503 and never 500."""
    return HealthReport(
        gateway=_ask(probe.gateway_connected),
        worker=_ask(probe.worker_alive),
        model_loaded=_ask(probe.model_loaded),
    )


def _ask(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        log.warning("health check %s raised; reporting it as failed", check.__name__, exc_info=True)
        return False
