"""Process settings, read from the environment once at start-up (nothing connects at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent

CLAIM_EVENTS_TOPIC = "ipe.claim-events"
SUBMISSIONS_TOPIC = "ipe.claim-submissions"
DEAD_LETTERS_TOPIC = "ipe.dead-letters"
# Final partition counts: the local broker cannot grow a topic later.
TOPIC_PARTITIONS = {CLAIM_EVENTS_TOPIC: 12, SUBMISSIONS_TOPIC: 12, DEAD_LETTERS_TOPIC: 3}


@dataclass(frozen=True)
class Settings:
    database_url: str
    kafka_bootstrap_servers: str
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    home: Path = field(default_factory=lambda: Path(".ipe").resolve())
    # Short group timeouts suit the local broker, whose joins take session_timeout/2.
    kafka_fast_groups: bool = False
    token_ttl_seconds: int = 3600
    schemas_dir: Path = REPO_ROOT / "schemas"

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
            schemas_dir=Path(env.get("IPE_SCHEMAS_DIR", str(REPO_ROOT / "schemas"))),
        )

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
