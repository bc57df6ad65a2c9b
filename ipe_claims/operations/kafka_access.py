"""The Kafka identities of a local secured cluster (``ipe up --broker apache``): the admin's and each
service's SCRAM password, made once and kept in ``$IPE_HOME/kafka-access.json`` (mode 600), so a restart
keeps them and ``ipe portals`` can act as the admin on the instance that runs.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipe_claims.adapters import kafka_identities as identities
from ipe_claims.operations.kafka_cluster import ADMIN_USER, SCRAM, client_options

FILE = "kafka-access.json"


@dataclass(frozen=True)
class KafkaAccess:
    """Passwords by principal, and the protocol and CA file clients use."""

    passwords: dict[str, str] = field(repr=False)
    protocol: str = "SASL_PLAINTEXT"
    ca: str | None = None

    @property
    def admin_password(self) -> str:
        return self.passwords[ADMIN_USER]

    def options(self, username: str) -> dict[str, str]:
        """kafka-python options for ``username``."""
        return client_options(username, self.passwords[username], Path(self.ca) if self.ca else None)

    def env(self, username: str) -> dict[str, str]:
        """The environment a process running as ``username`` reads (Settings.from_env)."""
        tls = {"KAFKA_SSL_CAFILE": self.ca} if self.ca else {}
        return {"KAFKA_SECURITY_PROTOCOL": self.protocol, "KAFKA_SASL_MECHANISM": SCRAM,
                "KAFKA_SASL_USERNAME": username, "KAFKA_SASL_PASSWORD": self.passwords[username]} | tls  # fmt: skip


def principals(services: Iterable[str]) -> list[str]:
    return [ADMIN_USER, identities.DECLARATIONS_PRODUCER, *map(identities.service_principal, services)]


def load(home: Path) -> KafkaAccess | None:
    try:
        known: dict[str, Any] = json.loads((home / FILE).read_text())
    except (OSError, ValueError):
        return None
    return KafkaAccess(known["passwords"], known.get("protocol", "SASL_PLAINTEXT"), known.get("ca"))


def admin_env(home: Path) -> dict[str, str]:
    """The admin's KAFKA_* environment for the instance in ``home``; none when it authenticates nobody."""
    access = load(home)
    return access.env(ADMIN_USER) if access else {}


def load_or_create(home: Path, services: Iterable[str]) -> KafkaAccess:
    """The stored passwords, with one made for any principal that has none yet."""
    known = load(home)
    passwords = dict(known.passwords) if known else {}
    for name in principals(services):
        passwords.setdefault(name, secrets.token_urlsafe(24))
    access = KafkaAccess(passwords)
    path = home / FILE
    home.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    os.chmod(path, 0o600)
    path.write_text(json.dumps({"passwords": passwords, "protocol": access.protocol, "ca": access.ca}))
    return access


def provision(bootstrap_servers: str, access: KafkaAccess, services: Iterable[str]) -> None:
    """Every service principal's credential and ACLs, and the declarations producer's (idempotent:
    credentials are set again, an ACL that exists is kept)."""
    admin = identities.admin_client(bootstrap_servers, **access.options(ADMIN_USER))
    try:
        for service in services:
            username = identities.service_principal(service)
            identities.set_credentials(admin, username, access.passwords[username])
            identities.grant(admin, username, identities.SERVICE_GRANTS[service])
        for username, grants in identities.PRODUCER_GRANTS.items():
            identities.set_credentials(admin, username, access.passwords[username])
            identities.grant(admin, username, grants)
    finally:
        admin.close()


def password_variable(principal: str) -> str:
    """The variable compose passes a principal's password in: ipe-relay -> IPE_KAFKA_PASSWORD_IPE_RELAY."""
    return "IPE_KAFKA_PASSWORD_" + principal.upper().replace("-", "_")


def main() -> None:
    """Compose's ``kafka-setup`` job: the topics, then every service principal's credential and ACLs,
    as the admin (``KAFKA_SASL_*``); the principals' passwords come from ``password_variable``."""
    from ipe_claims.adapters.kafka import ensure_topics
    from ipe_claims.operations.processes import SERVICES
    from ipe_claims.settings import Settings

    settings = Settings.from_env()
    passwords = {name: os.environ[password_variable(name)] for name in principals(SERVICES)[1:]}
    access = KafkaAccess(passwords | {ADMIN_USER: settings.kafka.sasl_password},
                         settings.kafka.security_protocol, settings.kafka.ssl_cafile or None)  # fmt: skip
    created = ensure_topics(settings.kafka.bootstrap_servers, **access.options(ADMIN_USER))
    provision(settings.kafka.bootstrap_servers, access, SERVICES)
    print(f"topics created: {created or 'none'}; {len(passwords)} principals and their ACLs in place")


if __name__ == "__main__":
    main()
