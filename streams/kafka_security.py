"""Every Kafka client's security settings, built from `Settings` in this one place.

    security(settings)          -> KafkaSecurity (protocol, SASL, a ready ssl.SSLContext)
    client_kwargs(settings)     -> keyword arguments of any aiokafka client (admin, producer,
                                   consumer), bootstrap servers included
    faust_credentials(settings) -> Faust's `broker_credentials`, or None for plaintext
    diagnose(exc, settings)     -> a `ConfigurationError` naming the setting a connection
                                   failure points at, or None when the broker may just be away

Files (CA, client certificate and key, password file) are read each time clients are built,
so a rotated Kubernetes secret is picked up by the next start. A file that is missing or not
usable raises `ConfigurationError` naming its setting; the CLI exits 2. Secrets stay wrapped
in `SecretStr` until the moment a client needs them, and no repr here shows one.

A new client is built the same way everywhere:
`AIOKafkaConsumer(*topics, group_id=..., **client_kwargs(settings))`.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.errors import (
    AuthenticationFailedError,
    IllegalSaslStateError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from pydantic import SecretStr

from streams.errors import ConfigurationError
from streams.settings import Settings, env_name

__all__ = ["KafkaSecurity", "client_kwargs", "diagnose", "faust_credentials", "security"]

# OpenSSL verify codes that mean "the certificate is fine but names another host".
_NAME_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
# Alerts a TLS server sends when it rejects (or wanted) our client certificate.
_CLIENT_CERT_ALERTS = (
    "ALERT_CERTIFICATE_REQUIRED",
    "ALERT_BAD_CERTIFICATE",
    "ALERT_UNKNOWN_CA",
    "ALERT_CERTIFICATE_UNKNOWN",
    "ALERT_HANDSHAKE_FAILURE",
    "ALERT_ACCESS_DENIED",
)


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """What a client needs to connect: aiokafka's protocol name, SASL, TLS context."""

    protocol: str  # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
    mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)

    def aiokafka(self) -> dict[str, Any]:
        """The security keyword arguments every aiokafka client accepts."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.ssl_context is not None:
            kwargs["ssl_context"] = self.ssl_context
        if self.mechanism is not None:
            kwargs["sasl_mechanism"] = self.mechanism
            kwargs["sasl_plain_username"] = self.username
            kwargs["sasl_plain_password"] = (
                self.password.get_secret_value() if self.password is not None else None
            )
        return kwargs


def security(settings: Settings) -> KafkaSecurity:
    """Build the security of a client from `settings`; raises `ConfigurationError`."""
    protocol = settings.broker_security
    context = ssl_context(settings) if protocol in ("ssl", "sasl_ssl") else None
    if not protocol.startswith("sasl_"):
        return KafkaSecurity(protocol=protocol.upper(), ssl_context=context)
    return KafkaSecurity(
        protocol=protocol.upper(),
        mechanism=settings.broker_sasl_mechanism,
        username=settings.broker_username,
        password=_password(settings),
        ssl_context=context,
    )


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `AIOKafkaProducer`, `AIOKafkaConsumer` or the admin client."""
    return {"bootstrap_servers": settings.bootstrap_servers, **security(settings).aiokafka()}


def faust_credentials(settings: Settings) -> Any:
    """`broker_credentials` for `faust.App`: the same security as `client_kwargs`.

    Faust's `SSLCredentials()` without a context raises TypeError; it always gets ours.
    """
    import faust

    built = security(settings)
    if built.mechanism is not None:
        return faust.SASLCredentials(
            username=built.username,
            password=built.password.get_secret_value() if built.password else None,
            ssl_context=built.ssl_context,
            mechanism=built.mechanism,
        )
    if built.ssl_context is not None:
        return faust.SSLCredentials(built.ssl_context)
    return None


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A client-side TLS context: the CA file (else the system's trust store), the client
    certificate for mutual TLS, hostname checking as set. The chain is always verified."""
    ca = settings.broker_ca_file
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(ca) if ca else None
        )
    except OSError as exc:
        raise _unreadable("broker_ca_file", ca, exc) from exc
    except ssl.SSLError as exc:
        raise ConfigurationError(
            f"{env_name('broker_ca_file')} ({ca}) holds no usable PEM certificate: {exc}"
        ) from exc
    context.check_hostname = settings.broker_check_hostname
    cert, key = settings.broker_cert_file, settings.broker_key_file
    if cert is not None:
        secret = settings.broker_key_password
        # Without a password OpenSSL would prompt on a terminal for an encrypted key;
        # answer with an empty one so such a key fails here instead of hanging.
        password = secret.get_secret_value() if secret else (lambda: b"")
        for name, path in (("broker_cert_file", cert), ("broker_key_file", key)):
            if path is not None and not path.is_file():
                raise _unreadable(name, path, FileNotFoundError(2, "no such file"))
        try:
            context.load_cert_chain(str(cert), str(key) if key else None, password=password)
        except (OSError, ssl.SSLError) as exc:
            names = " / ".join(
                env_name(n)
                for n, v in (
                    ("broker_cert_file", cert),
                    ("broker_key_file", key),
                    ("broker_key_password", settings.broker_key_password),
                )
                if v is not None
            )
            raise ConfigurationError(
                f"cannot load the client certificate and key ({names}): {_reason(exc)}"
            ) from exc
    return context


def diagnose(exc: BaseException, settings: Settings) -> ConfigurationError | None:
    """Map a failed connection attempt to the setting that is wrong, or None.

    Called by `streams.broker.wait_for_broker` for each failed attempt: a ConfigurationError
    is raised at once (retrying cannot fix credentials or trust), None means retry.
    aiokafka chains the TLS error of a dropped connection as `__cause__`; the chain is read.
    """
    for error in _chain(exc):
        if isinstance(
            error, SaslAuthenticationFailed | IllegalSaslStateError | AuthenticationFailedError
        ):
            secret = (
                "broker_password_file"
                if settings.broker_password_file is not None
                else "broker_password"
            )
            return ConfigurationError(
                f"the broker rejected the {settings.broker_sasl_mechanism} credentials: "
                f"check {env_name('broker_username')} and {env_name(secret)}"
            )
        if isinstance(error, UnsupportedSaslMechanismError):
            return ConfigurationError(
                f"the broker does not accept {env_name('broker_sasl_mechanism')}="
                f"{settings.broker_sasl_mechanism}: {error}"
            )
        if isinstance(error, ssl.SSLCertVerificationError):
            if error.verify_code in _NAME_MISMATCH:
                return ConfigurationError(
                    f"the broker's certificate does not name the host in "
                    f"{env_name('broker_url')} ({error.verify_message}); connect by a name "
                    f"it lists, or set {env_name('broker_check_hostname')}=false"
                )
            trusted = (
                f"the CAs in {settings.broker_ca_file}"
                if settings.broker_ca_file
                else "the system trust store, as it is not set"
            )
            return ConfigurationError(
                f"TLS verification of the broker's certificate failed "
                f"({error.verify_message}): check {env_name('broker_ca_file')} ({trusted})"
            )
        if isinstance(error, ssl.SSLError):
            reason = _reason(error)
            if any(alert in reason for alert in _CLIENT_CERT_ALERTS):
                return ConfigurationError(
                    f"the broker refused the TLS handshake ({reason}): it wants a client "
                    f"certificate it trusts; check {env_name('broker_cert_file')} and "
                    f"{env_name('broker_key_file')}"
                )
            if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER_FAILURE" in reason:
                return ConfigurationError(
                    f"the broker does not speak TLS on that port ({reason}): check "
                    f"{env_name('broker_security')} and {env_name('broker_url')}"
                )
            return ConfigurationError(f"TLS with the broker failed: {reason}")
    return None


def _password(settings: Settings) -> SecretStr | None:
    path = settings.broker_password_file
    if path is None:
        return settings.broker_password
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable("broker_password_file", path, exc) from exc
    # Secret files written with `echo` end in a newline that is not part of the password.
    password = text.rstrip("\r\n")
    if not password:
        raise ConfigurationError(f"{env_name('broker_password_file')} ({path}) is empty")
    return SecretStr(password)


def _unreadable(name: str, path: Path | None, exc: BaseException) -> ConfigurationError:
    reason = getattr(exc, "strerror", None) or str(exc)
    return ConfigurationError(f"cannot read {env_name(name)} ({path}): {reason}")


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else str(exc)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
