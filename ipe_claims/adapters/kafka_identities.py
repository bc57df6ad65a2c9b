"""Who may do what on Kafka: the service principals' ACLs, and portals' credentials, topics and ACLs.

A portal publishes on a topic of its own, ``ipe.claim-submissions.<portal>``, that only its principal
may write; the ingress reads who sent a record from the topic the broker let it into, never from a
field of the record. Each service runs as its own principal (``ipe-<service>``) with only the ACLs
below; the broker's StandardAuthorizer refuses everything no ACL grants (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    NewTopic,
    ResourcePattern,
    ResourceType,
    UserScramCredentialUpsertion,
)
from kafka.errors import TopicAlreadyExistsError

from ipe_claims.settings import (
    CLAIM_EVENTS_TOPIC,
    DEAD_LETTERS_TOPIC,
    DECLARATIONS_TOPIC,
    PORTAL_TOPIC_PARTITIONS,
    PORTAL_TOPIC_PREFIX,
    portal_topic,
)

SCRAM = "SCRAM-SHA-512"
# Portal names become topic names and principals: no '.' (Kafka's metrics confuse '.' with '_').
PORTAL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
DECLARATIONS_PRODUCER = "cnss-declarations"  # the CNSS's producer: the only writer of cnss.declarations


class IdentityError(ValueError):
    """A Kafka identity that cannot be made; the message says why."""


@dataclass(frozen=True)
class Grant:
    """One ALLOW ACL: ``operation`` on a topic or group ``name`` (a prefix when ``prefixed``)."""

    resource: ResourceType
    name: str
    operation: ACLOperation
    prefixed: bool = False


def _topic(name: str, operation: ACLOperation, prefixed: bool = False) -> Grant:
    return Grant(ResourceType.TOPIC, name, operation, prefixed)


def _group(name: str) -> Grant:
    return Grant(ResourceType.GROUP, name, ACLOperation.READ)


READ, WRITE, DESCRIBE, CREATE = (ACLOperation.READ, ACLOperation.WRITE, ACLOperation.DESCRIBE,
                                 ACLOperation.CREATE)  # fmt: skip
# What each process of `ipe up` (operations/processes.py SERVICES) needs, and nothing more. WRITE and READ imply
# DESCRIBE; an idempotent producer needs no IDEMPOTENT_WRITE once it may WRITE a topic (KIP-679).
SERVICE_GRANTS: dict[str, list[Grant]] = {
    # The API reads only end offsets, for /healthz's consumer lag.
    "api": [_topic(CLAIM_EVENTS_TOPIC, DESCRIBE), _topic(DECLARATIONS_TOPIC, DESCRIBE),
            _topic(PORTAL_TOPIC_PREFIX, DESCRIBE, prefixed=True)],
    # The relay recreates a lost claim-events topic (and re-publishes the store into it).
    "relay": [_topic(CLAIM_EVENTS_TOPIC, WRITE), _topic(CLAIM_EVENTS_TOPIC, CREATE)],
    "projector": [_topic(CLAIM_EVENTS_TOPIC, READ), _group("ipe-eligibility-projector")],
    "notifier": [_topic(CLAIM_EVENTS_TOPIC, READ), _group("ipe-notifier")],
    "ingress": [_topic(PORTAL_TOPIC_PREFIX, READ, prefixed=True), _group("ipe-ingress"),
                _topic(DEAD_LETTERS_TOPIC, WRITE)],
    "declarations": [_topic(DECLARATIONS_TOPIC, READ), _group("ipe-declarations")],
    "sealer": [],  # reads and seals the event store only
}  # fmt: skip
PRODUCER_GRANTS = {DECLARATIONS_PRODUCER: [_topic(DECLARATIONS_TOPIC, WRITE)]}


def service_principal(service: str) -> str:
    return f"ipe-{service}"


def portal_grants(portal: str) -> list[Grant]:
    """A portal may write its own topic, and nothing else: no read, no group, no other topic."""
    return [_topic(portal_topic(portal), WRITE)]


def _acl(username: str, grant: Grant) -> ACL:
    pattern = ACLResourcePatternType.PREFIXED if grant.prefixed else ACLResourcePatternType.LITERAL
    return ACL(f"User:{username}", "*", grant.operation, ACLPermissionType.ALLOW,
               ResourcePattern(grant.resource, grant.name, pattern))  # fmt: skip


def admin_client(bootstrap_servers: str, **security: Any) -> KafkaAdminClient:
    """An admin client as the admin principal (``security``: kafka-python options)."""
    return KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="ipe-admin", **security)


def set_credentials(admin: KafkaAdminClient, username: str, password: str) -> None:
    """Create or replace ``username``'s SCRAM-SHA-512 credential; connections already open keep going,
    new ones need the new password."""
    failed = admin.alter_user_scram_credentials([UserScramCredentialUpsertion(username, SCRAM, password)])
    if failed.get(username):
        raise IdentityError(f"the broker refused {username}'s credentials: {failed[username]}")


def grant(admin: KafkaAdminClient, username: str, grants: Iterable[Grant]) -> None:
    acls = [_acl(username, g) for g in grants]
    if not acls:
        return
    result = admin.create_acls(acls)
    if result["failed"]:
        raise IdentityError(f"the broker refused ACLs of {username}: {result['failed']}")


def create_portal_topic(admin: KafkaAdminClient, portal: str) -> str:
    """The portal's topic, replicated by the cluster's default; kept if it exists."""
    topic = portal_topic(portal)
    with contextlib.suppress(TopicAlreadyExistsError):
        admin.create_topics([NewTopic(topic, PORTAL_TOPIC_PARTITIONS, -1)])
    return topic


def check_portal_name(name: str) -> None:
    if not PORTAL_NAME.fullmatch(name):
        raise IdentityError(
            "a portal's name is 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or "
            "digit (it names its Kafka topic and principal)"
        )
