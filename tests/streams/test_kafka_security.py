"""Settings -> client security: every protocol and mechanism, files, validation, diagnosis."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import ValidationError

from streams.errors import ConfigurationError
from streams.kafka_security import client_kwargs, diagnose, faust_credentials, security
from streams.settings import Settings
from tests.pki import KEY_PASSWORD, Pki, make_pki

PASSWORD = "pa55-w0rd"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _settings(protocol: str, pki: Pki, mechanism: str | None = None, **extra: Any) -> Settings:
    values: dict[str, Any] = {"broker_url": "kafka://k1:9093;k2:9093", "broker_security": protocol}
    if protocol.startswith("sasl_"):
        values |= {"broker_username": "svc", "broker_password": PASSWORD}
        values |= {"broker_sasl_mechanism": mechanism} if mechanism else {}
    if protocol in ("ssl", "sasl_ssl"):
        values["broker_ca_file"] = pki.ca
    return Settings(**(values | extra))


COMBINATIONS = [
    ("plaintext", None, "PLAINTEXT"),
    ("ssl", None, "SSL"),
    *[
        (protocol, mechanism, protocol.upper())
        for protocol in ("sasl_plaintext", "sasl_ssl")
        for mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
    ],
]


@pytest.mark.parametrize(("protocol", "mechanism", "expected"), COMBINATIONS)
def test_each_protocol_and_mechanism_maps_to_aiokafka_and_faust_alike(
    pki: Pki, protocol: str, mechanism: str | None, expected: str
) -> None:
    s = _settings(protocol, pki, mechanism)
    kwargs = client_kwargs(s)
    assert kwargs["bootstrap_servers"] == "k1:9093,k2:9093"
    assert kwargs["security_protocol"] == expected
    assert ("ssl_context" in kwargs) == ("SSL" in expected)
    if mechanism is None:
        assert not {"sasl_mechanism", "sasl_plain_username", "sasl_plain_password"} & set(kwargs)
    else:
        assert kwargs["sasl_mechanism"] == mechanism
        assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("svc", PASSWORD)
    # What Faust hands aiokafka from our credentials is what our own clients get.
    faust_kwargs = credentials_to_aiokafka_auth(faust_credentials(s))
    ours = security(s).aiokafka()
    assert {k: v for k, v in faust_kwargs.items() if k != "ssl_context"} == {
        k: v for k, v in ours.items() if k != "ssl_context"
    }
    assert ("ssl_context" in ours) == (faust_kwargs.get("ssl_context") is not None)


def test_plaintext_needs_no_faust_credentials(pki: Pki) -> None:
    assert faust_credentials(_settings("plaintext", pki)) is None


def test_tls_verifies_the_chain_and_the_hostname_unless_told_not_to(pki: Pki) -> None:
    context = security(_settings("ssl", pki)).ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    relaxed = security(_settings("ssl", pki, broker_check_hostname=False)).ssl_context
    assert relaxed is not None
    assert relaxed.verify_mode == ssl.CERT_REQUIRED and not relaxed.check_hostname


def test_without_a_ca_file_tls_still_verifies_against_the_system_trust_store() -> None:
    context = security(Settings(broker_security="ssl")).ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize(
    ("content", "expected"),
    [("pw\n", "pw"), ("pw\r\n", "pw"), ("pw", "pw"), (" p w \n\n", " p w ")],
)
def test_password_file_is_read_without_its_trailing_newline(
    pki: Pki, tmp_path: Path, content: str, expected: str
) -> None:
    secret = tmp_path / "password"
    secret.write_text(content)
    s = _settings(
        "sasl_ssl", pki, "SCRAM-SHA-512", broker_password=None, broker_password_file=secret
    )
    assert client_kwargs(s)["sasl_plain_password"] == expected


@pytest.mark.parametrize("content", [None, "", "\n"])
def test_missing_or_empty_password_file_names_the_setting(
    pki: Pki, tmp_path: Path, content: str | None
) -> None:
    secret = tmp_path / "password"
    if content is not None:
        secret.write_text(content)
    s = Settings(
        broker_security="sasl_plaintext", broker_username="svc", broker_password_file=secret
    )
    with pytest.raises(ConfigurationError, match="FOLLOWUP_BROKER_PASSWORD_FILE"):
        client_kwargs(s)


def test_mutual_tls_loads_the_client_certificate(pki: Pki) -> None:
    s = _settings("ssl", pki, broker_cert_file=pki.client_cert, broker_key_file=pki.client_key)
    assert security(s).ssl_context is not None
    encrypted = _settings(
        "ssl",
        pki,
        broker_cert_file=pki.client_cert,
        broker_key_file=pki.client_key_encrypted,
        broker_key_password=KEY_PASSWORD,
    )
    assert security(encrypted).ssl_context is not None


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"broker_key_password": "wrong"}, "FOLLOWUP_BROKER_KEY_PASSWORD"),
        ({}, "FOLLOWUP_BROKER_KEY_FILE"),  # encrypted, no password: fails, never prompts
    ],
)
def test_unusable_client_key_names_the_settings(
    pki: Pki, extra: dict[str, Any], named: str
) -> None:
    s = _settings(
        "ssl", pki, broker_cert_file=pki.client_cert, broker_key_file=pki.client_key_encrypted
    )
    s = Settings(**{**s.model_dump(), **extra})
    with pytest.raises(ConfigurationError, match=named):
        security(s)


@pytest.mark.parametrize(
    ("field", "content"), [("broker_ca_file", None), ("broker_ca_file", "not a pem")]
)
def test_unusable_ca_file_names_the_setting(
    pki: Pki, tmp_path: Path, field: str, content: str | None
) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigurationError, match="FOLLOWUP_BROKER_CA_FILE"):
        security(_settings("ssl", pki, **{field: path}))


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"broker_security": "sasl_ssl", "broker_password": "x"}, "FOLLOWUP_BROKER_USERNAME"),
        ({"broker_security": "sasl_plaintext", "broker_username": "u"}, "FOLLOWUP_BROKER_PASS"),
        (
            {
                "broker_security": "sasl_ssl",
                "broker_username": "u",
                "broker_password": "x",
                "broker_password_file": "/run/secret",
            },
            "not both",
        ),
        ({"broker_username": "u"}, "FOLLOWUP_BROKER_USERNAME is set but"),
        ({"broker_security": "ssl", "broker_password": "x"}, "FOLLOWUP_BROKER_PASSWORD is set"),
        ({"broker_ca_file": "/ca.pem"}, "FOLLOWUP_BROKER_CA_FILE is set but"),
        (
            {
                "broker_security": "sasl_plaintext",
                "broker_username": "u",
                "broker_password": "x",
                "broker_cert_file": "/c.pem",
            },
            "does not use TLS",
        ),
        ({"broker_security": "ssl", "broker_key_file": "/k.pem"}, "needs FOLLOWUP_BROKER_CERT"),
        ({"broker_security": "ssl", "broker_key_password": "p"}, "needs FOLLOWUP_BROKER_CERT"),
        ({"broker_sasl_mechanism": "GSSAPI"}, "broker_sasl_mechanism"),
    ],
)
def test_incoherent_security_is_a_configuration_error(values: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError, match=named) as caught:
        Settings(**values)
    assert "'x'" not in str(caught.value), "errors never echo input values"


def test_no_repr_shows_a_secret(pki: Pki) -> None:
    s = _settings(
        "sasl_ssl",
        pki,
        "SCRAM-SHA-256",
        broker_cert_file=pki.client_cert,
        broker_key_file=pki.client_key_encrypted,
        broker_key_password=KEY_PASSWORD,
    )
    for text in (repr(s), str(s), repr(security(s)), repr(faust_credentials(s))):
        assert PASSWORD not in text and KEY_PASSWORD not in text


def _verification_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    error.verify_code, error.verify_message = code, message
    return error


def _dropped(cause: BaseException) -> KafkaConnectionError:
    error = KafkaConnectionError("Connection at k1:9093 closed")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (SaslAuthenticationFailed("bad"), "FOLLOWUP_BROKER_PASSWORD"),
        (_verification_error(20, "unable to get local issuer"), "FOLLOWUP_BROKER_CA_FILE"),
        (_dropped(_verification_error(19, "self-signed")), "FOLLOWUP_BROKER_CA_FILE"),
        (_verification_error(62, "Hostname mismatch"), "FOLLOWUP_BROKER_CHECK_HOSTNAME"),
        (
            _dropped(ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] alert")),
            "FOLLOWUP_BROKER_CERT_FILE",
        ),
    ],
)
def test_failures_retrying_cannot_fix_name_the_setting(
    pki: Pki, error: BaseException, named: str
) -> None:
    found = diagnose(error, _settings("sasl_ssl", pki, "PLAIN"))
    assert isinstance(found, ConfigurationError) and named in str(found)


def test_sasl_failure_names_the_password_file_when_that_is_the_source(tmp_path: Path) -> None:
    s = Settings(
        broker_security="sasl_plaintext",
        broker_username="u",
        broker_password_file=tmp_path / "pw",
    )
    assert "FOLLOWUP_BROKER_PASSWORD_FILE" in str(diagnose(SaslAuthenticationFailed(), s))


@pytest.mark.parametrize(
    "error",
    [ConnectionRefusedError(111, "refused"), TimeoutError(), KafkaConnectionError("closed")],
)
def test_an_unreachable_broker_is_not_a_configuration_error(pki: Pki, error: BaseException) -> None:
    assert diagnose(error, _settings("ssl", pki)) is None
