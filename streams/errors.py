"""Errors the engine raises at its edges (start-up, configuration, the embedded broker).

    FollowupError
    ├── ConfigurationError       settings or a rulebook that cannot be used; the CLI exits 2
    │   │                        (also: credentials the broker rejects, a broker certificate
    │   │                        that does not verify; see streams.kafka_security.diagnose)
    │   └── (rules.rulebook.loader.RulebookError is raised by the pure core and wrapped here)
    └── BrokerError              the broker cannot be reached or started; the CLI exits 1
        └── EmbeddedBrokerError  the bundled Tansu binary failed to start or answer

Bad *records* are not errors: the codec returns `signals.codec.Rejected` values and the
agents route them to dead-letter topics. Nothing here is raised per record.
"""

from __future__ import annotations

__all__ = ["BrokerError", "ConfigurationError", "EmbeddedBrokerError", "FollowupError"]


class FollowupError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(FollowupError):
    """Settings or a rulebook that cannot be used."""


class BrokerError(FollowupError):
    """The broker cannot be reached, or refused a request the worker needs."""


class EmbeddedBrokerError(BrokerError):
    """The bundled broker binary failed to start or never answered."""
