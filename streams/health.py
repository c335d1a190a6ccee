"""What keeps a worker from being ready, named: one place the loops report to.

The router, the score agent and the suppression reader each report here when they cannot
make progress (a send that keeps failing, a crashed loop, a replica not caught up) and
again when they recover. Readiness (`streams.web`) is false while anything is blocked, and
the metrics say which component and why (`followup_component_blocked{component}`). Each
change is logged once, not on every retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

__all__ = ["Health"]

log = logging.getLogger(__name__)


@dataclass
class Health:
    blocked: dict[str, str] = field(default_factory=dict)  # component -> why

    def block(self, component: str, reason: str) -> None:
        """`component` cannot make progress; `reason` names the cause, never data."""
        if self.blocked.get(component) != reason:
            log.warning("%s blocked: %s", component, reason)
        self.blocked[component] = reason

    def clear(self, component: str) -> None:
        if self.blocked.pop(component, None) is not None:
            log.info("%s unblocked", component)

    @property
    def ok(self) -> bool:
        return not self.blocked
