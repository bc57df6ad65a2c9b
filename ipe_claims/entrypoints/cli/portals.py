"""``ipe portals create|show|rotate``: a portal's account, Kafka credentials, topic and ACLs together.

The Kafka side acts as the admin principal: ``KAFKA_SASL_*`` of the environment, else the identities
``ipe up`` keeps for the local cluster in ``$IPE_HOME``. On a broker that authenticates nobody (the
embedded one) only the topic and the account are made, and the command says so.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from ipe_claims.adapters import kafka_identities as identities
from ipe_claims.adapters.accounts import AccountError, create_account, enabled_account, reset_password
from ipe_claims.entrypoints.cli.context import connect, console, fail, instance_settings, print_json
from ipe_claims.settings import portal_topic

app = typer.Typer(help="Portals publishing claims on Kafka.", no_args_is_help=True)


def _kafka() -> tuple[str, dict[str, str]]:
    """Bootstrap servers and the admin's kafka-python options ({} when the broker authenticates nobody)."""
    config = instance_settings()
    if not config.kafka.bootstrap_servers:
        raise fail("No broker: set KAFKA_BOOTSTRAP_SERVERS or start the system with `ipe up`.", 2)
    return config.kafka.bootstrap_servers, config.kafka_options()


def _admin(servers: str, options: dict[str, str]) -> KafkaAdminClient:
    try:
        return identities.admin_client(servers, **options)
    except KafkaError as exc:
        raise fail(f"cannot reach Kafka at {servers} as the admin: {type(exc).__name__}") from None


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="The portal: its account, Kafka principal and topic suffix.")],
    password: Annotated[str, typer.Option(help="For its account and its SCRAM credential.")],
    affiliation: Annotated[list[str], typer.Option(help="An affiliation it may file for (repeat).")],
) -> None:
    """Make the portal's account (role portal, its affiliations), its Kafka topic, SCRAM credential and
    its one ACL: WRITE on its own topic."""
    try:
        identities.check_portal_name(name)
    except identities.IdentityError as exc:
        raise fail(str(exc)) from None
    if len(password) < 8:
        raise fail("the password must have at least 8 characters")
    with connect() as conn:
        if conn.execute("SELECT 1 FROM accounts WHERE username = %s", (name,)).fetchone():
            raise fail(f"account {name!r} already exists")
        servers, options = _kafka()
        admin = _admin(servers, options)
        try:
            topic = identities.create_portal_topic(admin, name)
            if options:
                identities.set_credentials(admin, name, password)
                identities.grant(admin, name, identities.portal_grants(name))
        except (KafkaError, identities.IdentityError) as exc:
            raise fail(f"Kafka refused: {exc}") from None
        finally:
            admin.close()
        try:
            create_account(conn, name, password, "portal", affiliation)
        except AccountError as exc:
            raise fail(str(exc)) from None
    if options:
        console.print(f"Portal {name} created: it may write {topic} only, as {name} ({identities.SCRAM}).")
    else:
        console.print(f"Portal {name} created with topic {topic}. [yellow]This broker authenticates nobody: "
                      "no Kafka credential or ACL was made, and any client may write any topic.[/yellow]")  # fmt: skip


@app.command()
def show(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Where and how the portal publishes."""
    with connect() as conn:
        account = enabled_account(conn, name)
    if account is None or account.role != "portal":
        raise fail(f"no enabled portal {name!r}")
    servers, options = _kafka()
    shown: dict[str, Any] = {
        "kafka_username": name,
        "sasl_mechanism": options.get("sasl_mechanism"),  # None: the broker authenticates nobody
        "topic": portal_topic(name),
        "bootstrap_servers": servers,
        "security_protocol": options.get("security_protocol", "PLAINTEXT"),
    }
    if as_json:
        print_json(shown, indent=None)
        return
    for key, value in shown.items():
        console.print(f"{key:18} {value}")


@app.command()
def rotate(name: str, password: Annotated[str, typer.Option(help="The new password.")]) -> None:
    """A new password for the portal's SCRAM credential and account: new connections need it at once;
    connections already open are not cut (restart the portal's clients)."""
    with connect() as conn:
        account = enabled_account(conn, name)
        if account is None or account.role != "portal":
            raise fail(f"no enabled portal {name!r}")
        try:
            reset_password(conn, name, password)
        except AccountError as exc:
            raise fail(str(exc)) from None
    servers, options = _kafka()
    if options:
        admin = _admin(servers, options)
        try:
            identities.set_credentials(admin, name, password)
        except (KafkaError, identities.IdentityError) as exc:
            raise fail(f"the account has the new password, but Kafka refused it: {exc}") from None
        finally:
            admin.close()
    console.print(f"Portal {name}: new password set for its account and its Kafka credential.")
