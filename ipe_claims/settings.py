"""Process settings, read from the environment once at start-up (nothing connects at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

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


@dataclass(frozen=True)
class Settings:
    database_url: str = field(repr=False)  # it may carry the password: never in a repr or a log line
    kafka_bootstrap_servers: str
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    home: Path = field(default_factory=lambda: Path(".ipe").resolve())
    # Short group timeouts suit the local broker, whose joins take session_timeout/2.
    kafka_fast_groups: bool = False
    token_ttl_seconds: int = 3600
    rate_limit_per_minute: int = 600  # authenticated requests per account and minute (then 429)
    max_in_flight: int = 64  # HTTP requests served at once before shedding with 503 + Retry-After
    # CPU priority by who waits (bootstrap.take_priority): the decision path runs at nice = this step, side
    # work (notifications, declaration loads, seals) at twice it (19 at most), the API at 0 (docs/scaling.md). 0: off.
    nice_step: int = 10
    ingress_metrics_port: int = 0  # the Kafka ingress serves /metrics on this port; 0: not at all
    schemas_dir: Path = REPO_ROOT / "schemas"
    health_max_lag: int = 1000  # /healthz says "degraded" when a consumer or the relay is further behind
    # /healthz says "degraded" when records have waited beyond a partition's stored position this long.
    health_stall_seconds: float = 120.0
    # A record whose handler fails this many times in a row (not for a transient fault) is parked.
    poison_attempts: int = 3
    # Production transport security (docs/operations.md). Postgres TLS uses libpq's own PGSSLMODE,
    # PGSSLROOTCERT, PGSSLCERT, PGSSLKEY, which every connection of the process (event store included) reads.
    kafka_security_protocol: str = "PLAINTEXT"  # SSL, SASL_PLAINTEXT or SASL_SSL in production
    kafka_sasl_mechanism: str = ""  # PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = field(default="", repr=False)
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    postgres_sslmode: str = ""
    require_tls: bool = False  # IPE_REQUIRE_TLS=1: refuse to start without TLS to Kafka and Postgres
    # The days every clock of the process is moved by (ipe_claims/application/clock.py): tests and rehearsals only.
    clock_shift_days: int = 0
    # Logins (docs/security.md): attempts per client address and minute that fail or are being checked (then
    # 429), and Argon2 checks at once per api process (64 MiB each; beyond, 503 + Retry-After without hashing).
    login_attempts_per_address_per_minute: int = 20
    max_password_checks: int = 4

    @classmethod
    def from_env(cls, env: os._Environ[str] | dict[str, str] = os.environ) -> Settings:
        return cls(
            database_url=env.get("DATABASE_URL", ""),
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", ""),
            http_host=env.get("IPE_HTTP_HOST", "127.0.0.1"),
            http_port=int(env.get("IPE_HTTP_PORT", "8000")),
            home=Path(env.get("IPE_HOME", ".ipe")).resolve(),
            kafka_fast_groups=env.get("IPE_KAFKA_FAST_GROUPS", "") == "1",
            token_ttl_seconds=int(env.get("IPE_TOKEN_TTL_SECONDS", "3600")),
            rate_limit_per_minute=int(env.get("IPE_RATE_LIMIT_PER_MINUTE", "600")),
            max_in_flight=int(env.get("IPE_MAX_IN_FLIGHT", "64")),
            nice_step=int(env.get("IPE_NICE_STEP", "10")),
            ingress_metrics_port=int(env.get("IPE_INGRESS_METRICS_PORT", "0")),
            schemas_dir=Path(env.get("IPE_SCHEMAS_DIR", str(REPO_ROOT / "schemas"))),
            health_max_lag=int(env.get("IPE_HEALTH_MAX_LAG", "1000")),
            health_stall_seconds=float(env.get("IPE_HEALTH_STALL_SECONDS", "120")),
            poison_attempts=int(env.get("IPE_POISON_ATTEMPTS", "3")),
            kafka_security_protocol=env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper(),
            kafka_sasl_mechanism=env.get("KAFKA_SASL_MECHANISM", ""),
            kafka_sasl_username=env.get("KAFKA_SASL_USERNAME", ""),
            kafka_sasl_password=env.get("KAFKA_SASL_PASSWORD", ""),
            kafka_ssl_cafile=env.get("KAFKA_SSL_CAFILE", ""),
            kafka_ssl_certfile=env.get("KAFKA_SSL_CERTFILE", ""),
            kafka_ssl_keyfile=env.get("KAFKA_SSL_KEYFILE", ""),
            postgres_sslmode=env.get("PGSSLMODE", ""),
            require_tls=env.get("IPE_REQUIRE_TLS", "") == "1",
            clock_shift_days=int(env.get("IPE_CLOCK_SHIFT_DAYS", "0")),
            login_attempts_per_address_per_minute=int(
                env.get("IPE_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", "20")
            ),
            max_password_checks=int(env.get("IPE_MAX_PASSWORD_CHECKS", "4")),
        ).checked()

    def checked(self) -> Settings:
        """Refuse a configuration that would send credentials or claims in clear when TLS is required."""
        problems = []
        if self.kafka_security_protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            problems.append(f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} is not a Kafka protocol")
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username
        ):
            problems.append("SASL needs KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        if self.require_tls and self.kafka_security_protocol not in ("SSL", "SASL_SSL"):
            problems.append("IPE_REQUIRE_TLS=1 but KAFKA_SECURITY_PROTOCOL is not SSL or SASL_SSL")
        if self.require_tls and self.postgres_sslmode not in ("require", "verify-ca", "verify-full"):
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
        options = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_security_protocol.startswith("SASL"):
            options |= {"sasl_mechanism": self.kafka_sasl_mechanism,
                        "sasl_plain_username": self.kafka_sasl_username,
                        "sasl_plain_password": self.kafka_sasl_password}  # fmt: skip
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if value := getattr(self, f"kafka_{name}"):
                options[name] = value
        return options if self.kafka_security_protocol != "PLAINTEXT" else {}

    def consumer_timeouts(self) -> dict[str, int]:
        if self.kafka_fast_groups:
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
        url = urlsplit(self.database_url)
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
