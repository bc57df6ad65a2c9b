"""TLS and SASL come from the environment and reach kafka-python's options; IPE_REQUIRE_TLS refuses clear text."""

from __future__ import annotations

import pytest

from ipe_claims.settings import Settings

BASE = {"DATABASE_URL": "postgresql://ipe@db:5432/ipe", "KAFKA_BOOTSTRAP_SERVERS": "k1:9093"}


def test_plaintext_by_default_adds_no_kafka_options() -> None:
    assert Settings.from_env(BASE).kafka_options() == {}


def test_sasl_over_tls_reaches_the_kafka_clients_and_the_password_stays_out_of_repr() -> None:
    settings = Settings.from_env(BASE | {
        "KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "ipe", "KAFKA_SASL_PASSWORD": "s3cret-sasl", "KAFKA_SSL_CAFILE": "/etc/ca.pem",
    })  # fmt: skip
    assert settings.kafka_options() == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "ipe",
        "sasl_plain_password": "s3cret-sasl", "ssl_cafile": "/etc/ca.pem",
    }  # fmt: skip
    assert "s3cret-sasl" not in repr(settings)


def test_mutual_tls_passes_the_client_certificate() -> None:
    settings = Settings.from_env(BASE | {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTFILE": "/c.pem",
                                         "KAFKA_SSL_KEYFILE": "/k.pem"})  # fmt: skip
    assert settings.kafka_options() == {
        "security_protocol": "SSL",
        "ssl_certfile": "/c.pem",
        "ssl_keyfile": "/k.pem",
    }


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "not a Kafka protocol"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "SASL needs"),
        ({"IPE_REQUIRE_TLS": "1", "PGSSLMODE": "verify-full"}, "KAFKA_SECURITY_PROTOCOL is not SSL"),
        ({"IPE_REQUIRE_TLS": "1", "KAFKA_SECURITY_PROTOCOL": "SSL", "PGSSLMODE": "prefer"}, "PGSSLMODE"),
    ],
)
def test_unsafe_or_broken_configurations_refuse_to_start(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Settings.from_env(BASE | env)


def test_required_tls_is_accepted_when_both_links_have_it() -> None:
    settings = Settings.from_env(BASE | {"IPE_REQUIRE_TLS": "1", "KAFKA_SECURITY_PROTOCOL": "SSL",
                                         "PGSSLMODE": "verify-full"})  # fmt: skip
    assert settings.require_tls and settings.kafka_options()["security_protocol"] == "SSL"
