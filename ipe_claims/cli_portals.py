"""``ipe portals create|show|rotate``: a portal's account, Kafka credentials, topic and ACLs together.

The Kafka side acts as the admin principal: ``KAFKA_SASL_*`` of the environment, else the identities
``ipe up`` keeps for the local cluster in ``$IPE_HOME``. On a broker that authenticates nobody (the
embedded one) only the topic and the account are made, and the command says so.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import psycopg
import typer
from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from rich.console import Console

from ipe_claims.adapters import kafka_identities as identities
from ipe_claims.adapters.accounts import AccountError, create_account, enabled_account, reset_password
from ipe_claims.settings import Settings, portal_topic

portals_app = typer.Typer(help="Portals publishing claims on Kafka.", no_args_is_help=True)
console = Console(soft_wrap=True)


def _database_url() -> str:
    from ipe_claims.cli import _database_url as configured

    return configured()


def _kafka() -> tuple[str, dict[str, str]]:
    """Bootstrap servers and the admin's kafka-python options ({} when the broker authenticates nobody)."""
    from ipe_claims.cli import _home
    from ipe_claims.operations import kafka_access
    from ipe_claims.operations.kafka_cluster import ADMIN_USER
    from ipe_claims.operations.supervisor import read_state

    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        settings = Settings.from_env()
        return settings.kafka.bootstrap_servers, settings.kafka_options()
    servers = (read_state(_home()) or {}).get("kafka_bootstrap_servers")
    if not servers:
        console.print("[red]No broker: set KAFKA_BOOTSTRAP_SERVERS or start the system with `ipe up`.[/red]")
        raise typer.Exit(2)
    access = kafka_access.load(_home())
    return str(servers), access.options(ADMIN_USER) if access else {}


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(1)


def _admin(servers: str, options: dict[str, str]) -> KafkaAdminClient:
    try:
        return identities.admin_client(servers, **options)
    except KafkaError as exc:
        raise _fail(f"cannot reach Kafka at {servers} as the admin: {type(exc).__name__}") from None


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
        raise _fail(str(exc)) from None
    if len(password) < 8:
        raise _fail("the password must have at least 8 characters")
    with psycopg.connect(_database_url(), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM accounts WHERE username = %s", (name,)).fetchone():
            raise _fail(f"account {name!r} already exists")
        servers, options = _kafka()
        admin = _admin(servers, options)
        try:
            topic = identities.create_portal_topic(admin, name)
            if options:
                identities.set_credentials(admin, name, password)
                identities.grant(admin, name, identities.portal_grants(name))
        except (KafkaError, identities.IdentityError) as exc:
            raise _fail(f"Kafka refused: {exc}") from None
        finally:
            admin.close()
        try:
            create_account(conn, name, password, "portal", affiliation)
        except AccountError as exc:
            raise _fail(str(exc)) from None
    if options:
        console.print(f"Portal {name} created: it may write {topic} only, as {name} ({identities.SCRAM}).")
    else:
        console.print(f"Portal {name} created with topic {topic}. [yellow]This broker authenticates nobody: "
                      "no Kafka credential or ACL was made, and any client may write any topic.[/yellow]")  # fmt: skip


def show(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Where and how the portal publishes."""
    with psycopg.connect(_database_url(), autocommit=True) as conn:
        account = enabled_account(conn, name)
    if account is None or account.role != "portal":
        raise _fail(f"no enabled portal {name!r}")
    servers, options = _kafka()
    shown: dict[str, Any] = {
        "kafka_username": name,
        "sasl_mechanism": options.get("sasl_mechanism"),  # None: the broker authenticates nobody
        "topic": portal_topic(name),
        "bootstrap_servers": servers,
        "security_protocol": options.get("security_protocol", "PLAINTEXT"),
    }
    if as_json:
        print(json.dumps(shown))
        return
    for key, value in shown.items():
        console.print(f"{key:18} {value}")


def rotate(name: str, password: Annotated[str, typer.Option(help="The new password.")]) -> None:
    """A new password for the portal's SCRAM credential and account: new connections need it at once;
    connections already open are not cut (restart the portal's clients)."""
    with psycopg.connect(_database_url(), autocommit=True) as conn:
        account = enabled_account(conn, name)
        if account is None or account.role != "portal":
            raise _fail(f"no enabled portal {name!r}")
        try:
            reset_password(conn, name, password)
        except AccountError as exc:
            raise _fail(str(exc)) from None
    servers, options = _kafka()
    if options:
        admin = _admin(servers, options)
        try:
            identities.set_credentials(admin, name, password)
        except (KafkaError, identities.IdentityError) as exc:
            raise _fail(f"the account has the new password, but Kafka refused it: {exc}") from None
        finally:
            admin.close()
    console.print(f"Portal {name}: new password set for its account and its Kafka credential.")


portals_app.command("create")(create)
portals_app.command("show")(show)
portals_app.command("rotate")(rotate)
