from __future__ import annotations

import pytest
from pydantic import ValidationError

from streams.local import settings_env
from streams.settings import Settings


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLLOWUP_BROKER_URL", "kafka://k1:9092;k2:9093")
    monkeypatch.setenv("FOLLOWUP_PARTITIONS", "8")
    monkeypatch.setenv("FOLLOWUP_TOPIC_PAGE_VISITED", "web.pageviews")
    s = Settings()
    assert s.bootstrap_servers == "k1:9092,k2:9093"
    assert s.partitions == 8
    assert s.topic_page_visited == "web.pageviews"


def test_scheme_is_optional() -> None:
    assert Settings(broker_url="localhost:9092").broker_url == "kafka://localhost:9092"


@pytest.mark.parametrize(
    ("field", "value"),
    [("partitions", 0), ("store", "redis"), ("web_port", 70000), ("batch_seconds", 0)],
)
def test_rejects_unusable_values(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})


def test_password_is_secret_and_survives_the_environment_round_trip() -> None:
    s = Settings(
        broker_security="sasl_ssl",
        broker_username="svc",
        broker_password="hunter2",
        broker_key_password="k3y-pass",
        broker_cert_file="/etc/c.pem",
        broker_check_hostname=False,
        partitions=3,
    )
    assert "hunter2" not in repr(s) and "k3y-pass" not in repr(s)
    env = settings_env(s)
    assert env["FOLLOWUP_BROKER_PASSWORD"] == "hunter2"
    assert env["FOLLOWUP_PARTITIONS"] == "3"
    assert "hunter2" not in repr(env) and "hunter2" not in str(env)
    assert "k3y-pass" not in f"{env}" and "FOLLOWUP_BROKER_PASSWORD" in repr(env)
    assert Settings(**{k.removeprefix("FOLLOWUP_").lower(): v for k, v in env.items()}) == s


def test_every_secret_setting_is_listed_as_one() -> None:
    """SECRET_FIELDS masks values in reprs and exported environments: a new SecretStr
    setting that is not listed would be shown to whoever prints a child's environment."""
    from pydantic import SecretStr

    from streams.settings import SECRET_FIELDS

    secret = {
        name
        for name, field in Settings.model_fields.items()
        if SecretStr in (field.annotation, *getattr(field.annotation, "__args__", ()))
    }
    assert secret == SECRET_FIELDS
