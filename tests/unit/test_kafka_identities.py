"""Who may do what on Kafka, as data: each process's grants, a portal's one grant, the names and the
local password file. The broker's enforcement is tests/integration/test_kafka_identities.py."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from kafka.admin import ACLOperation, ResourceType

from ipe_claims.adapters.kafka_identities import (
    PORTAL_NAME,
    PRODUCER_GRANTS,
    SERVICE_GRANTS,
    IdentityError,
    check_portal_name,
    portal_grants,
)
from ipe_claims.operations import kafka_access
from ipe_claims.operations.kafka_cluster import ADMIN_USER
from ipe_claims.operations.processes import SERVICES
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, DECLARATIONS_TOPIC, portal_of_topic, portal_topic
from services.ingress.ingress import PORTAL_TOPICS


def test_every_process_has_its_grants_and_only_the_relay_writes_claim_events() -> None:
    assert SERVICE_GRANTS.keys() == SERVICES.keys()
    writers = {
        name: {g.name for g in grants if g.operation == ACLOperation.WRITE}
        for name, grants in (SERVICE_GRANTS | PRODUCER_GRANTS).items()
    }
    assert [name for name, topics in writers.items() if CLAIM_EVENTS_TOPIC in topics] == ["relay"]
    assert [name for name, topics in writers.items() if DECLARATIONS_TOPIC in topics] == ["cnss-declarations"]
    groups = {
        g.name for grants in SERVICE_GRANTS.values() for g in grants if g.resource == ResourceType.GROUP
    }
    assert groups == {"ipe-eligibility-projector", "ipe-notifier", "ipe-ingress", "ipe-declarations"}


def test_a_portal_may_write_its_own_topic_and_nothing_else() -> None:
    (grant,) = portal_grants("damancom")
    assert (grant.resource, grant.name, grant.operation, grant.prefixed) == (
        ResourceType.TOPIC, "ipe.claim-submissions.damancom", ACLOperation.WRITE, False,
    )  # fmt: skip


def test_the_ingress_reads_every_portal_topic_and_knows_whose_it_is() -> None:
    assert re.match(PORTAL_TOPICS, portal_topic("damancom"))
    assert not re.match(PORTAL_TOPICS, "ipe.claim-submissions") and not re.match(
        PORTAL_TOPICS, "ipe.claim-events"
    )
    assert portal_of_topic(portal_topic("damancom")) == "damancom"
    assert portal_of_topic(CLAIM_EVENTS_TOPIC) is None


@pytest.mark.parametrize("name", ["", "Damancom", "a.b", "-x", "é", "x" * 64, "a b"])
def test_a_portal_name_must_be_able_to_name_a_topic_and_a_principal(name: str) -> None:
    with pytest.raises(IdentityError):
        check_portal_name(name)


def test_portal_names_accepted() -> None:
    for name in ("damancom", "portal-1", "cnss_rabat", "x" * 63):
        check_portal_name(name)
        assert PORTAL_NAME.fullmatch(name)


def test_local_passwords_are_made_once_and_kept_private(tmp_path: Path) -> None:
    first = kafka_access.load_or_create(tmp_path, SERVICES)
    assert set(first.passwords) == {ADMIN_USER, "cnss-declarations", *(f"ipe-{s}" for s in SERVICES)}
    assert len(set(first.passwords.values())) == len(first.passwords)  # one each
    assert kafka_access.load_or_create(tmp_path, SERVICES).passwords == first.passwords
    assert stat.S_IMODE((tmp_path / kafka_access.FILE).stat().st_mode) == 0o600
    env = first.env("ipe-relay")
    assert (env["KAFKA_SASL_USERNAME"], env["KAFKA_SECURITY_PROTOCOL"]) == ("ipe-relay", "SASL_PLAINTEXT")
    assert kafka_access.admin_env(tmp_path)["KAFKA_SASL_USERNAME"] == ADMIN_USER
    assert kafka_access.admin_env(tmp_path / "nothing-here") == {}
    assert first.admin_password not in repr(first)
