"""Process settings: one pydantic-settings model, read from the environment once at start-up.

Each field names its environment variable (``validation_alias``) and its default, once. Sections group a
concern (``settings.database``, ``settings.kafka``, ``settings.http``…); a bad value refuses to start with the
variable and what it expects. Nothing connects at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ipe_claims.application.clock import SystemClock

REPO_ROOT = Path(__file__).resolve().parent.parent

CLAIM_EVENTS_TOPIC = "ipe.claim-events"
# Each portal publishes on a topic of its own that only its Kafka principal may write, so the ingress
# knows the sender from the topic, not from what the sender wrote (ipe_claims/adapters/kafka_identities.py).
PORTAL_TOPIC_PREFIX = "ipe.claim-submissions."
PORTAL_TOPIC_PARTITIONS = 6
DEAD_LETTERS_TOPIC = "ipe.dead-letters"
DECLARATIONS_TOPIC = "cnss.declarations"  # monthly declaration lines from the CNSS (key: immatriculation)
# Final partition counts: the local broker cannot grow a topic later.
TOPIC_PARTITIONS = {
    CLAIM_EVENTS_TOPIC: 12,
    DEAD_LETTERS_TOPIC: 3,
    DECLARATIONS_TOPIC: 12,
}
# The claim events are the log the read models replay: kept forever (the broker's default is 7 days).
TOPIC_CONFIGS = {CLAIM_EVENTS_TOPIC: {"retention.ms": "-1"}}


def portal_topic(portal: str) -> str:
    return PORTAL_TOPIC_PREFIX + portal


def portal_of_topic(topic: str) -> str | None:
    """The portal whose topic this is; None for any other topic."""
    return topic.removeprefix(PORTAL_TOPIC_PREFIX) if topic.startswith(PORTAL_TOPIC_PREFIX) else None


class SettingsError(ValueError):
    """A configuration the process refuses to start with; the message names each variable at fault."""


def _variable(name: str, default: Any = ..., **options: Any) -> Any:
    """A field read from the environment variable ``name`` (and settable by its field name in code)."""
    return Field(default, validation_alias=name, **options)


class _Section(BaseModel):
    # extra="forbid": a misspelt field in code fails; from_env hands each section its own variables only.
    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True,
                              hide_input_in_errors=True)  # fmt: skip


class DatabaseSettings(_Section):
    # The url may carry the password: never in a repr or a log line.
    url: str = _variable("DATABASE_URL", "", repr=False)
    # Postgres TLS uses libpq's own PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY, which every connection
    # of the process (event store included) reads; the mode is read here for IPE_REQUIRE_TLS.
    sslmode: str = _variable("PGSSLMODE", "")


class KafkaSettings(_Section):
    bootstrap_servers: str = _variable("KAFKA_BOOTSTRAP_SERVERS", "")
    # Production transport security (docs/operations.md): PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    security_protocol: str = _variable("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    sasl_mechanism: str = _variable("KAFKA_SASL_MECHANISM", "")  # PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
    sasl_username: str = _variable("KAFKA_SASL_USERNAME", "")
    sasl_password: str = _variable("KAFKA_SASL_PASSWORD", "", repr=False)
    ssl_cafile: str = _variable("KAFKA_SSL_CAFILE", "")
    ssl_certfile: str = _variable("KAFKA_SSL_CERTFILE", "")
    ssl_keyfile: str = _variable("KAFKA_SSL_KEYFILE", "")
    # Short group timeouts suit the local broker, whose joins take session_timeout/2.
    fast_groups: bool = _variable("IPE_KAFKA_FAST_GROUPS", False)
    # A record whose handler fails this many times in a row (not for a transient fault) is parked.
    poison_attempts: int = _variable("IPE_POISON_ATTEMPTS", 3)

    @field_validator("security_protocol", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class HttpSettings(_Section):
    host: str = _variable("IPE_HTTP_HOST", "127.0.0.1")
    port: int = _variable("IPE_HTTP_PORT", 8000)
    max_in_flight: int = _variable("IPE_MAX_IN_FLIGHT", 64)  # requests served at once, then 503 + Retry-After
    rate_limit_per_minute: int = _variable("IPE_RATE_LIMIT_PER_MINUTE", 600)  # per account, then 429
    token_ttl_seconds: int = _variable("IPE_TOKEN_TTL_SECONDS", 3600)
    # The Kafka ingress serves /metrics on this port; 0: not at all.
    ingress_metrics_port: int = _variable("IPE_INGRESS_METRICS_PORT", 0)


class HealthSettings(_Section):
    # /healthz says "degraded" when a consumer or the relay is further behind.
    max_lag: int = _variable("IPE_HEALTH_MAX_LAG", 1000)
    # /healthz says "degraded" when records have waited beyond a partition's stored position this long.
    stall_seconds: float = _variable("IPE_HEALTH_STALL_SECONDS", 120.0)


class LoginSettings(_Section):
    """Logins (docs/security.md): attempts per client address and minute that fail or are being checked
    (then 429), and Argon2 checks at once per api process (64 MiB each; beyond, 503 without hashing)."""

    attempts_per_address_per_minute: int = _variable("IPE_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", 20)
    max_password_checks: int = _variable("IPE_MAX_PASSWORD_CHECKS", 4)


class NotifierSettings(_Section):
    """The notifier's channels and retry policy (docs/notifications.md). A channel whose variables are unset
    is not configured: its messages stay pending (never lost) until a notifier that has it runs."""

    smtp_host: str = _variable("IPE_SMTP_HOST", "")
    smtp_port: int | None = _variable("IPE_SMTP_PORT", None)  # None: 465 for ssl, 25 for none, else 587
    smtp_security: Literal["starttls", "ssl", "none"] = _variable("IPE_SMTP_SECURITY", "starttls")
    smtp_username: str = _variable("IPE_SMTP_USERNAME", "")
    smtp_password: str = _variable("IPE_SMTP_PASSWORD", "", repr=False)
    smtp_from: str = _variable("IPE_SMTP_FROM", "CNSS IPE <no-reply@cnss.ma>")
    smtp_verify_tls: bool = _variable("IPE_SMTP_VERIFY_TLS", True)
    sms_url: str = _variable("IPE_SMS_URL", "")
    sms_token: str = _variable("IPE_SMS_TOKEN", "", repr=False)
    timeout_seconds: float = _variable("IPE_NOTIFY_TIMEOUT_SECONDS", 15.0)
    retry_base_seconds: float = _variable("IPE_NOTIFY_RETRY_BASE_SECONDS", 30.0)
    retry_cap_seconds: float = _variable("IPE_NOTIFY_RETRY_CAP_SECONDS", 3600.0)
    max_attempts: int = _variable("IPE_NOTIFY_MAX_ATTEMPTS", 12)
    message_id_domain: str = _variable("IPE_MESSAGE_ID_DOMAIN", "ipe.cnss.ma")


class BlobSettings(_Section):
    """Where the dossier's scans are kept (adapters/blobs.py): $IPE_HOME/blobs, or an S3-compatible bucket
    when IPE_S3_ENDPOINT (host:port) is set."""

    s3_endpoint: str = _variable("IPE_S3_ENDPOINT", "")
    s3_access_key: str = _variable("IPE_S3_ACCESS_KEY", "", repr=False)
    s3_secret_key: str = _variable("IPE_S3_SECRET_KEY", "", repr=False)
    s3_bucket: str = _variable("IPE_S3_BUCKET", "ipe-scans")
    s3_secure: bool = _variable("IPE_S3_SECURE", True)


class PaymentsSettings(_Section):
    """The fund's account the payment run debits (docs/operations.md). The defaults are a demo's, clearly
    fake (bank and locality 999, no such bank): set all three for a real run."""

    debtor_name: str = _variable("IPE_PAYMENTS_DEBTOR_NAME", "CNSS IPE - COMPTE DE DEMONSTRATION FICTIF")
    debtor_rib: str = _variable("IPE_PAYMENTS_DEBTOR_RIB", "999999000000000000000014")
    debtor_bic: str = _variable("IPE_PAYMENTS_DEBTOR_BIC", "DEMOMAM0XXX")


class Settings(BaseSettings):
    """Everything a process is configured with. ``Settings.from_env`` reads the environment; tests and tools
    take the defaults or a process's settings and change them: ``Settings().changed(database={"url": u})``."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_by_name=True,
                                      validate_by_alias=True, hide_input_in_errors=True)  # fmt: skip

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    login: LoginSettings = Field(default_factory=LoginSettings)
    notifier: NotifierSettings = Field(default_factory=NotifierSettings)
    blobs: BlobSettings = Field(default_factory=BlobSettings)
    payments: PaymentsSettings = Field(default_factory=PaymentsSettings)
    home: Path = _variable("IPE_HOME", default_factory=lambda: Path(".ipe").resolve())
    schemas_dir: Path = _variable("IPE_SCHEMAS_DIR", REPO_ROOT / "schemas")
    # CPU priority by who waits (bootstrap.take_priority): the decision path runs at nice = this step, side
    # work (notifications, declaration loads, seals) at twice it (19 at most), the API at 0 (docs/scaling.md). 0: off.
    nice_step: int = _variable("IPE_NICE_STEP", 10)
    require_tls: bool = _variable(
        "IPE_REQUIRE_TLS", False
    )  # refuse to start without TLS to Kafka and Postgres
    # The days every clock of the process is moved by (ipe_claims/application/clock.py): tests and rehearsals only.
    clock_shift_days: int = _variable("IPE_CLOCK_SHIFT_DAYS", 0)

    @field_validator("home")
    @classmethod
    def _absolute(cls, home: Path) -> Path:
        return home.resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """What the constructor is given, nothing else: ``from_env`` is the one reader of the environment,
        so a test's explicit settings never pick up the variables of the shell that runs it."""
        return (init_settings,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """The settings ``env`` describes; an empty variable counts as unset."""
        given = {name: value for name, value in env.items() if value != ""}
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            if section := _section(field):
                values[name] = _own_variables(section, given)
            elif isinstance(field.validation_alias, str) and field.validation_alias in given:
                values[field.validation_alias] = given[field.validation_alias]
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError(_explain(exc, given)) from None

    def changed(self, **changes: Any) -> Self:
        """A copy with some values changed, validated like the original: a section takes a dict of the
        fields it changes (``settings.changed(http={"rate_limit_per_minute": 5}, home=path)``)."""
        values = self.model_dump()
        for name, value in changes.items():
            if name not in type(self).model_fields:
                raise TypeError(f"Settings has no {name!r}")
            values[name] = {**values[name], **value} if isinstance(value, Mapping) else value
        return type(self)(**values)

    @model_validator(mode="after")
    def checked(self) -> Self:
        """Refuse a configuration that would send credentials or claims in clear when TLS is required."""
        problems = []
        protocol = self.kafka.security_protocol
        if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            problems.append(f"KAFKA_SECURITY_PROTOCOL={protocol} is not a Kafka protocol")
        if protocol.startswith("SASL") and not (self.kafka.sasl_mechanism and self.kafka.sasl_username):
            problems.append("SASL needs KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        if self.require_tls and protocol not in ("SSL", "SASL_SSL"):
            problems.append("IPE_REQUIRE_TLS=1 but KAFKA_SECURITY_PROTOCOL is not SSL or SASL_SSL")
        if self.require_tls and self.database.sslmode not in ("require", "verify-ca", "verify-full"):
            problems.append("IPE_REQUIRE_TLS=1 but PGSSLMODE is not require, verify-ca or verify-full")
        if self.require_tls and self.clock_shift_days:
            problems.append("IPE_CLOCK_SHIFT_DAYS is for tests and rehearsals, not with IPE_REQUIRE_TLS=1")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def clock(self) -> SystemClock:
        """The process's clock: the machine's, moved by ``clock_shift_days``."""
        return SystemClock(timedelta(days=self.clock_shift_days))

    def kafka_options(self) -> dict[str, str]:
        """The kafka-python options for the transport security configured; nothing for plaintext."""
        kafka = self.kafka
        if kafka.security_protocol == "PLAINTEXT":
            return {}
        options = {"security_protocol": kafka.security_protocol}
        if kafka.security_protocol.startswith("SASL"):
            options |= {"sasl_mechanism": kafka.sasl_mechanism, "sasl_plain_username": kafka.sasl_username,
                        "sasl_plain_password": kafka.sasl_password}  # fmt: skip
        files = {
            "ssl_cafile": kafka.ssl_cafile,
            "ssl_certfile": kafka.ssl_certfile,
            "ssl_keyfile": kafka.ssl_keyfile,
        }
        return options | {name: path for name, path in files.items() if path}

    def consumer_timeouts(self) -> dict[str, int]:
        if self.kafka.fast_groups:
            # A join waits up to max_poll_interval_ms for members that are gone: keep it short, and
            # batches small enough to be handled well within it.
            return {
                "session_timeout_ms": 2000,
                "heartbeat_interval_ms": 500,
                "max_poll_interval_ms": 3000,
                "max_poll_records": 50,
            }
        return {}

    def eventsourcing_env(self, create_tables: bool = False) -> dict[str, str]:
        """The event store's configuration, derived from DATABASE_URL."""
        url = urlsplit(self.database.url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "ipe",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": url.username or "postgres",
            "POSTGRES_PASSWORD": url.password or "",
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
            "POSTGRES_CONN_MAX_AGE": "",
            # Tables are created once by `ipe up` (or the test harness), never by racing services.
            "CREATE_TABLE": "true" if create_tables else "false",
        }


def _own_variables(section: type[_Section], given: Mapping[str, str]) -> dict[str, str]:
    names = (field.validation_alias for field in section.model_fields.values())
    return {name: given[name] for name in names if isinstance(name, str) and name in given}


def _section(field: FieldInfo) -> type[_Section] | None:
    factory = field.default_factory
    return factory if isinstance(factory, type) and issubclass(factory, _Section) else None


def _secret_variables() -> set[str]:
    fields = list(Settings.model_fields.values())
    fields += [f for field in fields if (section := _section(field)) for f in section.model_fields.values()]
    return {str(field.validation_alias) for field in fields if not field.repr}


def _explain(error: ValidationError, given: Mapping[str, str]) -> str:
    """One line per problem, each naming its variable: ``IPE_HTTP_PORT='abc': Input should be a valid
    integer…``. Secrets are named, never shown."""
    secrets, lines = _secret_variables(), []
    for problem in error.errors(include_url=False):
        message = problem["msg"].removeprefix("Value error, ")
        variable = str(problem["loc"][-1]) if problem["loc"] else ""
        if not variable:
            lines.append(message)
        elif variable in secrets or variable not in given:
            lines.append(f"{variable}: {message}")
        else:
            lines.append(f"{variable}={given[variable]!r}: {message}")
    return "invalid configuration: " + "; ".join(lines)
