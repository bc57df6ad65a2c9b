"""One settings model: every variable read once by name, a bad value named with what it expects, secrets
out of every repr, and one way for tests and tools to change settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from ipe_claims.entrypoints.bootstrap import cli_settings
from ipe_claims.settings import REPO_ROOT, Settings, SettingsError
from services.notifier.config import NotifierConfig

BASE = {"DATABASE_URL": "postgresql://ipe:db-s3cret@db:5432/ipe", "KAFKA_BOOTSTRAP_SERVERS": "k1:9093"}


def test_each_section_reads_the_variables_operators_know() -> None:
    settings = Settings.from_env(BASE | {
        "IPE_HTTP_HOST": "0.0.0.0", "IPE_HTTP_PORT": "8443", "IPE_MAX_IN_FLIGHT": "8", "IPE_TOKEN_TTL_SECONDS": "60",
        "IPE_RATE_LIMIT_PER_MINUTE": "7", "IPE_KAFKA_FAST_GROUPS": "1", "IPE_POISON_ATTEMPTS": "5",
        "IPE_HEALTH_MAX_LAG": "9", "IPE_HEALTH_STALL_SECONDS": "1.5", "IPE_MAX_PASSWORD_CHECKS": "2",
        "IPE_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE": "3", "PGSSLMODE": "require", "IPE_HOME": "somewhere",
        "IPE_NICE_STEP": "0", "IPE_INGRESS_METRICS_PORT": "9100", "IPE_MESSAGE_ID_DOMAIN": "example.ma",
    })  # fmt: skip
    assert (settings.database.url, settings.database.sslmode) == (BASE["DATABASE_URL"], "require")
    assert (settings.kafka.bootstrap_servers, settings.kafka.fast_groups, settings.kafka.poison_attempts) == (
        "k1:9093", True, 5)  # fmt: skip
    http = settings.http
    assert (http.host, http.port, http.max_in_flight, http.token_ttl_seconds, http.rate_limit_per_minute,
            http.ingress_metrics_port) == ("0.0.0.0", 8443, 8, 60, 7, 9100)  # fmt: skip
    assert (settings.health.max_lag, settings.health.stall_seconds) == (9, 1.5)
    assert (settings.login.attempts_per_address_per_minute, settings.login.max_password_checks) == (3, 2)
    assert settings.home == Path("somewhere").resolve() and settings.nice_step == 0
    assert settings.notifier.message_id_domain == "example.ma"


def test_unset_and_empty_variables_take_the_defaults() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"IPE_HTTP_PORT": "", "IPE_KAFKA_FAST_GROUPS": ""}) == Settings()
    defaults = Settings()
    assert (defaults.http.port, defaults.kafka.security_protocol, defaults.kafka.fast_groups) == (
        8000, "PLAINTEXT", False)  # fmt: skip
    assert defaults.home == Path(".ipe").resolve()


@pytest.mark.parametrize(
    ("env", "named", "expected"),
    [
        ({"IPE_HTTP_PORT": "abc"}, "IPE_HTTP_PORT='abc'", "valid integer"),
        ({"IPE_HEALTH_STALL_SECONDS": "soon"}, "IPE_HEALTH_STALL_SECONDS='soon'", "valid number"),
        ({"IPE_REQUIRE_TLS": "maybe"}, "IPE_REQUIRE_TLS='maybe'", "valid boolean"),
        ({"IPE_SMTP_SECURITY": "tls"}, "IPE_SMTP_SECURITY='tls'", "'starttls', 'ssl' or 'none'"),
    ],
)
def test_a_bad_value_names_its_variable_and_what_it_expects(
    env: dict[str, str], named: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(BASE | env)
    assert named in str(refused.value) and expected in str(refused.value)


def test_every_bad_value_is_named_at_once_and_secrets_never_shown() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(
            BASE | {"IPE_HTTP_PORT": "x", "IPE_NICE_STEP": "y", "KAFKA_SASL_PASSWORD": "sasl-s3cret"}
        )
    message = str(refused.value)
    assert "IPE_HTTP_PORT" in message and "IPE_NICE_STEP" in message
    assert "db-s3cret" not in message and "sasl-s3cret" not in message


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings.from_env(BASE | {"KAFKA_SASL_PASSWORD": "sasl-s3cret", "IPE_SMTP_PASSWORD": "smtp-s3cret",
                                         "IPE_SMS_TOKEN": "sms-s3cret", "IPE_SMTP_HOST": "mx"})  # fmt: skip
    shown = repr(settings) + str(settings) + repr(NotifierConfig.from_settings(settings))
    for secret in ("db-s3cret", "sasl-s3cret", "smtp-s3cret", "sms-s3cret"):
        assert secret not in shown


def test_changed_validates_and_keeps_the_rest() -> None:
    settings = Settings.from_env(BASE)
    limited = settings.changed(http={"rate_limit_per_minute": 5}, clock_shift_days=-2)
    assert limited.http.rate_limit_per_minute == 5 and limited.clock_shift_days == -2
    assert limited.http.port == settings.http.port and limited.database == settings.database
    assert settings.http.rate_limit_per_minute == 600  # the original is untouched
    with pytest.raises(ValueError, match="rate_limit"):
        settings.changed(http={"rate_limit": 5})  # a misspelt field is refused, not ignored
    with pytest.raises(TypeError, match="webhooks"):
        settings.changed(webhooks={})
    with pytest.raises(ValueError, match="not a Kafka protocol"):
        settings.changed(kafka={"security_protocol": "TLS"})


def test_the_notifier_config_comes_from_the_settings() -> None:
    assert NotifierConfig.from_settings(Settings.from_env(BASE)).smtp is None
    config = NotifierConfig.from_settings(Settings.from_env(BASE | {
        "IPE_SMTP_HOST": "mx.cnss.ma", "IPE_SMTP_SECURITY": "ssl", "IPE_SMTP_USERNAME": "ipe",
        "IPE_SMTP_VERIFY_TLS": "0", "IPE_NOTIFY_TIMEOUT_SECONDS": "4", "IPE_NOTIFY_MAX_ATTEMPTS": "3",
        "IPE_SMS_URL": "https://sms.example/send",
    }))  # fmt: skip
    assert config.smtp is not None
    assert (config.smtp.host, config.smtp.port, config.smtp.security, config.smtp.username) == (
        "mx.cnss.ma", 465, "ssl", "ipe")  # fmt: skip
    assert (config.smtp.verify_tls, config.smtp.timeout, config.send_timeout) == (False, 4.0, 4.0)
    assert config.policy.max_attempts == 3 and config.sms_url == "https://sms.example/send"


def test_the_cli_takes_the_local_instance_when_the_environment_names_none(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"database_url": "postgresql://local/ipe", '
                                         '"kafka_bootstrap_servers": "127.0.0.1:9999"}')  # fmt: skip
    local = cli_settings({"IPE_HOME": str(tmp_path)})
    assert (local.database.url, local.kafka.bootstrap_servers) == ("postgresql://local/ipe", "127.0.0.1:9999")
    given = cli_settings(BASE | {"IPE_HOME": str(tmp_path)})
    assert (given.database.url, given.kafka.bootstrap_servers) == (BASE["DATABASE_URL"], "k1:9093")
    assert cli_settings({"IPE_HOME": str(tmp_path / "none")}).database.url == ""


def test_the_configuration_table_of_the_runbook_lists_every_variable_and_its_setting() -> None:
    table = (
        (REPO_ROOT / "docs" / "operations.md")
        .read_text()
        .split("## Configuration", 1)[1]
        .split("\n## ", 1)[0]
    )
    sections = {name: field.default_factory for name, field in Settings.model_fields.items()
                if isinstance(field.default_factory, type) and issubclass(field.default_factory, BaseModel)}  # fmt: skip
    fields = [(f"{section}.{name}", field) for section, model in sections.items()
              for name, field in model.model_fields.items()]  # fmt: skip
    fields += [(name, field) for name, field in Settings.model_fields.items() if name not in sections]
    for setting, field in fields:
        assert f"`{field.validation_alias}`" in table and f"`{setting}`" in table, setting
