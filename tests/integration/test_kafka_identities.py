"""Portals authenticated by Kafka, not by a field: a single-node Apache Kafka of this module's own with
SASL/SCRAM-SHA-512 and the StandardAuthorizer (the harness's broker authenticates nobody). Portals are
made by `ipe portals create`; the ingress runs as its own principal and learns the sender from the topic
the broker let the record into; the broker itself refuses what no ACL grants."""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import GroupAuthorizationFailedError, KafkaTimeoutError, TopicAuthorizationFailedError
from typer.testing import CliRunner

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.kafka import ensure_topics
from ipe_claims.adapters.kafka_identities import DECLARATIONS_PRODUCER, service_principal
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.claim import NAMESPACE
from ipe_claims.entrypoints.cli import app as cli
from ipe_claims.operations.kafka_access import KafkaAccess, principals, provision
from ipe_claims.operations.kafka_cluster import ADMIN_USER, SCRAM, KafkaCluster, KafkaSecurity, client_options
from ipe_claims.operations.kafka_jars import fetch, toolchain
from ipe_claims.operations.processes import SERVICES
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, DECLARATIONS_TOPIC, Settings, portal_topic
from services.ingress.ingress import Ingress
from tests.conftest import TODAY, Insured, declare, random_digits, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not toolchain()[0], reason=f"no Apache Kafka here: {toolchain()[1]}"),
]


@dataclass(frozen=True)
class Secured:
    cluster: KafkaCluster
    access: KafkaAccess
    portals: dict[str, str]  # name -> password
    affiliation: dict[str, Insured]  # portal -> an insured of an affiliation it holds

    def options(self, username: str, password: str | None = None) -> dict[str, str]:
        return client_options(
            username, password or self.access.passwords.get(username) or self.portals[username]
        )

    def producer(self, username: str, **options: Any) -> KafkaProducer:
        return KafkaProducer(bootstrap_servers=self.cluster.bootstrap_servers, acks="all", max_block_ms=10_000,
                             **self.options(username), **options)  # fmt: skip


def as_principal(settings: Settings, secured: Secured, username: str) -> Settings:
    """The harness's settings, on the secured cluster as ``username``."""
    return settings.changed(
        kafka={
            "bootstrap_servers": secured.cluster.bootstrap_servers,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": SCRAM,
            "sasl_username": username,
            "sasl_password": secured.access.passwords[username],
        },
    )


def ipe(secured: Secured, settings: Settings, *args: str) -> Any:
    """The `ipe` command as the operator runs it, the admin's credentials in its environment."""
    env = {"DATABASE_URL": settings.database.url, "KAFKA_BOOTSTRAP_SERVERS": secured.cluster.bootstrap_servers,
           "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": SCRAM,
           "KAFKA_SASL_USERNAME": ADMIN_USER, "KAFKA_SASL_PASSWORD": secured.access.admin_password}  # fmt: skip
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, conn_module: psycopg.Connection[Any]
) -> Iterator[Secured]:
    access = KafkaAccess({name: secrets.token_urlsafe(18) for name in principals(SERVICES)})
    cluster = KafkaCluster.on_free_ports(
        tmp_path_factory.mktemp("kafka-sasl"), fetch(), 1, KafkaSecurity(access.admin_password)
    )
    cluster.start()
    try:
        ensure_topics(cluster.bootstrap_servers, **access.options(ADMIN_USER))
        provision(cluster.bootstrap_servers, access, SERVICES)
        portals = {f"portal-{random_digits(8)}": secrets.token_urlsafe(12) for _ in range(2)}
        held = {name: declare(conn_module, months=40) for name in portals}
        own = Secured(cluster, access, portals, held)
        for name, password in portals.items():
            ipe(own, settings, "portals", "create", name, "--password", password,
                "--affiliation", held[name].affiliation_number)  # fmt: skip
        yield own
    finally:
        cluster.discard()


@pytest.fixture(scope="module")
def conn_module(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(settings.database.url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def ingress(secured: Secured, settings: Settings, claims_app: ClaimsApplication) -> Iterator[None]:
    """The ingress as ``ipe-ingress``, in its own group, on every portal topic (made before it starts)."""
    own = as_principal(settings, secured, service_principal("ingress"))
    stop = threading.Event()
    thread = threading.Thread(target=Ingress(own, claims_app, AvroCodec(settings.schemas_dir)).run,
                              args=(stop,), daemon=True)  # fmt: skip
    thread.start()
    yield
    stop.set()
    thread.join(timeout=20)


def submission(codec: AvroCodec, portal: str, insured: Insured, **changes: Any) -> tuple[str, bytes]:
    submission_id = f"k-{uuid.uuid4()}"
    record = {"submission_id": submission_id, "portal": portal, "affiliation_number": insured.affiliation_number,
              "immatriculation": insured.immatriculation, "job_loss_date": TODAY - timedelta(days=3),
              "motif_code": "licenciement_economique", "attestation": True} | changes  # fmt: skip
    return submission_id, codec.encode("ClaimSubmission", record)


def dead_letter(conn: psycopg.Connection[Any], topic: str, partition: int, offset: int) -> str:
    row = wait_for(lambda: conn.execute(
        "SELECT reason FROM dead_letters WHERE consumer = 'ipe-ingress' AND topic = %s AND partition = %s "
        "AND message_offset = %s", (topic, partition, offset)).fetchone(), timeout=60, what="the dead letter")  # fmt: skip
    return str(row[0])


def test_ipe_portals_show_says_where_and_how_a_portal_publishes(secured: Secured, settings: Settings) -> None:
    name = next(iter(secured.portals))
    shown = json.loads(ipe(secured, settings, "portals", "show", name, "--json").stdout)
    assert {k: shown[k] for k in ("kafka_username", "sasl_mechanism", "topic", "bootstrap_servers")} == {
        "kafka_username": name, "sasl_mechanism": "SCRAM-SHA-512", "topic": f"ipe.claim-submissions.{name}",
        "bootstrap_servers": secured.cluster.bootstrap_servers,
    }  # fmt: skip


def test_a_portal_publishing_on_its_topic_files_the_claim_in_its_name(
    secured: Secured, ingress: None, claims_app: ClaimsApplication, codec: AvroCodec,
    conn: psycopg.Connection[Any],
) -> None:  # fmt: skip
    portal = next(iter(secured.portals))
    submission_id, value = submission(codec, portal, secured.affiliation[portal])
    producer = secured.producer(portal, enable_idempotence=True)
    try:
        producer.send(portal_topic(portal), value).get(timeout=30)
    finally:
        producer.close()
    claim_id = uuid.uuid5(NAMESPACE, f"{portal}:{submission_id}")
    wait_for(lambda: claim_id in claims_app.repository, timeout=60, what="the portal's claim")
    claim = claims_app.get_claim(claim_id)
    assert (claim.channel, claim.submitted_by) == ("kafka", portal)


def test_a_record_naming_another_portal_or_an_affiliation_not_held_is_dead_lettered(
    secured: Secured, ingress: None, claims_app: ClaimsApplication, codec: AvroCodec,
    conn: psycopg.Connection[Any],
) -> None:  # fmt: skip
    portal, other = secured.portals
    stranger = declare(conn, months=40)
    sent = [  # the field lies, the topic does not; then affiliations the portal does not hold
        submission(codec, other, secured.affiliation[portal]),
        submission(codec, portal, stranger),
        submission(codec, portal, secured.affiliation[other]),
    ]
    producer = secured.producer(portal)
    try:
        metas = [producer.send(portal_topic(portal), value).get(timeout=30) for _, value in sent]
    finally:
        producer.close()
    reasons = [dead_letter(conn, portal_topic(portal), m.partition, m.offset) for m in metas]
    assert reasons[0].startswith(f"portal_mismatch: L'enregistrement nomme un autre portail que {portal}")
    assert reasons[1].startswith("affiliation_not_held: ") and reasons[2].startswith("affiliation_not_held: ")
    assert not any(
        uuid.uuid5(NAMESPACE, f"{name}:{submission_id}") in claims_app.repository
        for name in (portal, other)
        for submission_id, _ in sent
    )
    admin_reader = KafkaConsumer(bootstrap_servers=secured.cluster.bootstrap_servers, consumer_timeout_ms=1000,
                                 auto_offset_reset="earliest", **secured.options(ADMIN_USER))  # fmt: skip
    try:
        admin_reader.subscribe(["ipe.dead-letters"])
        codes = {bytes(dict(r.headers)["dlq-code"]).decode() for r in admin_reader
                 if r.key and r.key.decode().startswith(portal_topic(portal) + "/")}  # fmt: skip
    finally:
        admin_reader.close()
    assert codes == {"portal_mismatch", "affiliation_not_held"}


def test_the_broker_refuses_a_client_without_credentials_or_with_a_wrong_password(secured: Secured) -> None:
    with pytest.raises(KafkaTimeoutError):  # the SASL listener answers nothing before authentication
        KafkaProducer(bootstrap_servers=secured.cluster.bootstrap_servers, bootstrap_timeout_ms=3000)
    from confluent_kafka import KafkaError, Producer

    errors: list[Any] = []
    wrong = Producer({"bootstrap.servers": secured.cluster.bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
                      "sasl.mechanism": SCRAM, "sasl.username": next(iter(secured.portals)),
                      "sasl.password": "not-the-password", "error_cb": errors.append})  # fmt: skip
    wait_for(lambda: (wrong.poll(0.2), errors)[1], timeout=30, what="an authentication error")
    assert errors[0].code() == KafkaError._AUTHENTICATION, errors[0]
    log = (secured.cluster.nodes[0].folder / "broker.log").read_text()
    assert "Unexpected Kafka request of type METADATA during SASL handshake" in log  # the anonymous one
    assert "Authentication failed during authentication due to invalid credentials" in log


def test_a_portal_may_write_its_own_topic_only(secured: Secured, codec: AvroCodec) -> None:
    portal, other = secured.portals
    _, value = submission(codec, portal, secured.affiliation[portal])
    producer = secured.producer(portal)
    try:
        for topic in (portal_topic(other), DECLARATIONS_TOPIC, CLAIM_EVENTS_TOPIC):
            with pytest.raises(TopicAuthorizationFailedError):
                producer.send(topic, value).get(timeout=30)
    finally:
        producer.close()
    declarations = secured.producer(DECLARATIONS_PRODUCER)  # the one principal that may write it
    try:
        assert declarations.send(DECLARATIONS_TOPIC, b"not even a declaration").get(timeout=30).offset >= 0
    finally:
        declarations.close()


def test_each_service_has_only_the_acls_it_needs(secured: Secured) -> None:
    # The relay sees only ipe.claim-events: the topics it may not create are left to the admin.
    relay_options = secured.options(service_principal("relay"))
    assert ensure_topics(secured.cluster.bootstrap_servers, list(secured.portals), **relay_options) == []
    relay = secured.producer(service_principal("relay"), enable_idempotence=True)
    notifier = secured.producer(service_principal("notifier"), enable_idempotence=False)
    try:
        assert relay.send(CLAIM_EVENTS_TOPIC, b"relay may").get(timeout=30).offset >= 0
        with pytest.raises(TopicAuthorizationFailedError):
            relay.send(DECLARATIONS_TOPIC, b"relay may not").get(timeout=30)
        with pytest.raises(TopicAuthorizationFailedError):
            notifier.send(CLAIM_EVENTS_TOPIC, b"only the relay writes claim events").get(timeout=30)
    finally:
        relay.close()
        notifier.close()
    for group, allowed in (("ipe-notifier", True), ("ipe-eligibility-projector", False)):
        reader = KafkaConsumer(CLAIM_EVENTS_TOPIC, bootstrap_servers=secured.cluster.bootstrap_servers,
                               group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
                               **secured.options(service_principal("notifier")))  # fmt: skip
        try:
            if allowed:
                assert wait_for(lambda r=reader: r.poll(timeout_ms=500), timeout=30, what="claim events")
            else:
                with pytest.raises(GroupAuthorizationFailedError):
                    reader.poll(timeout_ms=5000)
        finally:
            reader.close()


def _tls_files(folder: Path) -> tuple[Path, Path]:
    """A CA made here, and the broker's key and certificate (for 127.0.0.1) signed by it: PEM files."""

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)  # the JVM checks validity on the machine's clock, not the system's shifted one
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ipe test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
          .not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))  # fmt: skip
    import ipaddress

    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))  # fmt: skip
    pem = serialization.Encoding.PEM
    folder.mkdir(parents=True, exist_ok=True)
    keystore, ca_file = folder / "broker.pem", folder / "ca.pem"
    keystore.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + cert.public_bytes(pem)
    )
    ca_file.write_bytes(ca.public_bytes(pem))
    return keystore, ca_file


def test_sasl_over_tls_with_a_ca_the_test_made(tmp_path: Path) -> None:
    keystore, ca = _tls_files(tmp_path)
    password = secrets.token_urlsafe(12)
    cluster = KafkaCluster.on_free_ports(
        tmp_path / "kafka", fetch(), 1, KafkaSecurity(password, keystore, ca)
    )
    cluster.start()
    try:
        options = client_options(ADMIN_USER, password, ca)
        assert options["security_protocol"] == "SASL_SSL"
        ensure_topics(cluster.bootstrap_servers, **options)
        producer = KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks="all", **options)
        producer.send(CLAIM_EVENTS_TOPIC, b"over TLS").get(timeout=30)
        producer.close()
        _, other_ca = _tls_files((tmp_path / "other").resolve())
        with pytest.raises(KafkaTimeoutError):  # another CA does not vouch for this broker
            KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, bootstrap_timeout_ms=3000,
                          **(options | {"ssl_cafile": str(other_ca)}))  # fmt: skip
    finally:
        cluster.discard()


@pytest.fixture(scope="module")
def codec(settings: Settings) -> AvroCodec:
    return AvroCodec(settings.schemas_dir)
