"""The ``ipe`` command: run the system (up, down, status) and manage its reference data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import httpx
import psycopg
import typer
from rich.console import Console
from rich.table import Table

from ipe_claims.cli_access import audit_access
from ipe_claims.cli_accounts import register as register_accounts
from ipe_claims.cli_audit import register as register_audit
from ipe_claims.cli_claims import claims_app
from ipe_claims.cli_contacts import contacts_app
from ipe_claims.cli_ops import register as register_ops
from ipe_claims.cli_parked import parked_app
from ipe_claims.cli_portals import portals_app
from ipe_claims.cli_report import affiliations_app, report_command
from ipe_claims.cli_simulate import simulate_command
from ipe_claims.operations.private import make_private, masked
from ipe_claims.operations.supervisor import Supervisor, pid_alive, read_state
from ipe_claims.settings import Settings

app = typer.Typer(help="ipe-claims: the CNSS job-loss benefit (IPE) claims service.", no_args_is_help=True)
accounts_app = typer.Typer(help="Portal accounts.", no_args_is_help=True)
declarations_app = typer.Typer(help="The contribution history (monthly declarations).", no_args_is_help=True)
audit_app = typer.Typer(help="Auditors' tools.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(declarations_app, name="declarations")
app.add_typer(audit_app, name="audit")
# Areas of the CLI that live in their own modules register here, one line each (see ipe_claims/cli_*.py).
app.add_typer(contacts_app, name="contacts")
app.add_typer(claims_app, name="claims")
app.add_typer(parked_app, name="parked")
app.add_typer(portals_app, name="portals")
app.command("simulate")(simulate_command)
app.command("report")(report_command)
app.add_typer(affiliations_app, name="affiliations")
register_audit(app, audit_app)
register_ops(app)
register_accounts(accounts_app)
audit_app.command("access")(audit_access)
console = Console(soft_wrap=True)  # commands printed must stay copy-pasteable


def _home() -> Path:
    return Path(os.environ.get("IPE_HOME", ".ipe")).resolve()


def _http_port() -> int:
    return int(os.environ.get("IPE_HTTP_PORT", "8000"))


def _database_url() -> str:
    """DATABASE_URL, or the local database of the instance running in $IPE_HOME."""
    url = os.environ.get("DATABASE_URL") or (read_state(_home()) or {}).get("database_url")
    if not url:
        console.print("[red]No database: set DATABASE_URL or start the system with `ipe up`.[/red]")
        raise typer.Exit(2)
    return str(url)


def _wait_healthy(home: Path, timeout: float, supervisor_pid: int) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(supervisor_pid):
        state = read_state(home) or {}
        if state.get("phase") in ("stopping", "stopped"):
            break
        services = state.get("services") or {}
        if state.get("phase") == "running" and all(s["state"] == "running" for s in services.values()):
            try:
                if httpx.get(f"{state['http_url']}/healthz", timeout=1).status_code == 200:
                    return state
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    log = home / "logs" / "supervisor.log"
    tail = log.read_text()[-3000:] if log.exists() else ""
    console.print(f"[red]ipe did not become healthy.[/red]\n{tail}")
    raise typer.Exit(1)


def activation_script() -> Path:
    """The virtual environment's activate script, the one line a new terminal needs for `ipe` (README.md)."""
    return Path(sys.prefix) / "bin" / "activate"


def _print_welcome(state: dict[str, object]) -> None:
    from ipe_claims.entrypoints.demo import DEMO_AUDITOR, DEMO_EMPLOYER, INSURED

    url = state["http_url"]
    console.print(f"[bold green]ipe-claims is up[/bold green]  (state in {state['home']})")
    console.print(f"  HTTP API      {url}   (OpenAPI: {url}/docs)")
    console.print(f"  Postgres      {masked(str(state['database_url']))}   (password: ipe status --json)")
    console.print(f"  Kafka         {state['kafka_bootstrap_servers']}   {_kafka_security(state)}")
    console.print(
        f"  Demo employer {DEMO_EMPLOYER[0]} / {DEMO_EMPLOYER[1]}   auditor {DEMO_AUDITOR[0]} / {DEMO_AUDITOR[1]}"
    )
    console.print("  Demo insured  " + ", ".join(f"{p.immatriculation} ({p.story})" for p in INSURED[:3]))
    console.print("In another terminal, put `ipe` on the PATH first (once per terminal):")
    console.print(f"  source {activation_script()}")
    console.print("Try (see README.md):")
    console.print(
        f"  TOKEN=$(curl -s {url}/api/v1/auth/token -H 'content-type: application/json' "
        f'-d \'{{"username":"{DEMO_EMPLOYER[0]}","password":"{DEMO_EMPLOYER[1]}"}}\' | python3 -c \'import sys,json;print(json.load(sys.stdin)["access_token"])\')'
    )
    console.print(
        f"  curl -s {url}/api/v1/claims -H \"Authorization: Bearer $TOKEN\" -H 'content-type: application/json' "
        f'-d \'{{"affiliation_number":"1234567","immatriculation":"100000001","job_loss_date":"{Settings.from_env().clock().today().isoformat()}","motif_code":"licenciement_economique","attestation":true}}\''
    )
    console.print(f'  curl -s {url}/api/v1/claims -H "Authorization: Bearer $TOKEN"')


def _kafka_security(state: dict[str, object]) -> str:
    if str(state.get("kafka_security", "PLAINTEXT")).startswith("SASL"):
        return "(SASL/SCRAM-SHA-512 and ACLs, a principal per service; `ipe portals create` for a portal)"
    return "(no SASL: the broker authenticates nobody, any client may write any topic)"


class BrokerChoice(StrEnum):
    embedded = "embedded"
    apache = "apache"
    auto = "auto"


def _choose_broker(broker: str) -> str:
    """``auto``: Apache Kafka when a JDK 17+ (and Maven, or the jars cached) is here; said in one line."""
    if broker != "auto":
        return broker
    from ipe_claims.operations.kafka_jars import kafka_version, toolchain

    usable, why = toolchain()
    if usable:
        console.print(f"Broker: Apache Kafka {kafka_version()} ({why}).")
        return "apache"
    console.print(
        f"Broker: embedded Tansu, memory only ({why}; a JDK 17+ and Maven would give Apache Kafka)."
    )
    return "embedded"


@app.command()
def up(
    detach: Annotated[bool, typer.Option("--detach", help="Return once every component is healthy.")] = False,
    timeout: float = 180.0,
    broker: Annotated[
        BrokerChoice,
        typer.Option(
            help="Local broker: embedded Tansu (memory only), Apache Kafka (JDK 17+, jars from Maven Central), "
            "or auto (Apache Kafka when a JDK and Maven are here). Ignored with KAFKA_BOOTSTRAP_SERVERS.",
        ),
    ] = BrokerChoice.embedded,
    brokers: Annotated[
        int, typer.Option(min=1, max=9, help="Apache Kafka nodes (broker and controller each).")
    ] = 1,
) -> None:
    """Start Postgres and the broker (unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS are set) and the services."""
    kind = "embedded" if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") else _choose_broker(broker.value)
    home = _home()
    state = read_state(home)
    if state and pid_alive(state.get("supervisor_pid")) and state.get("phase") != "stopped":
        console.print(f"[yellow]Already running in {home} (pid {state['supervisor_pid']}).[/yellow]")
        raise typer.Exit(1)
    make_private(home)  # before anything is written there (docs/operations.md, Files and secrets)
    (home / "logs").mkdir(exist_ok=True)
    (home / "state.json").unlink(missing_ok=True)
    if detach:
        with open(home / "logs" / "supervisor.log", "ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "ipe_claims.cli", "up", "--broker", kind, "--brokers", str(brokers)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "IPE_QUIET": "1"},
            )
        _print_welcome(_wait_healthy(home, timeout, child.pid))
        return
    supervisor = Supervisor(home, _http_port(), broker_kind=kind, broker_count=brokers)
    if not os.environ.get("IPE_QUIET"):
        import threading

        threading.Thread(
            target=lambda: _print_welcome(_wait_healthy(home, timeout, os.getpid())), daemon=True
        ).start()
    supervisor.run()


@app.command()
def down(timeout: float = 60.0) -> None:
    """Stop everything `ipe up` started in $IPE_HOME; no process is left behind."""
    home = _home()
    state = read_state(home)
    pid = (state or {}).get("supervisor_pid")
    if not state or not isinstance(pid, int) or not pid_alive(pid):
        console.print("Nothing runs.")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):  # it hung: take down everything it recorded
        os.kill(pid, signal.SIGKILL)
        last = read_state(home) or state
        for process in [*last["services"].values(), *last.get("brokers", [])]:
            if pid_alive(process.get("pid")):
                os.kill(process["pid"], signal.SIGKILL)
    console.print("Stopped.")


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """What runs where, with each service's state, pid and restarts."""
    state = read_state(_home())
    if state is None or not pid_alive(state.get("supervisor_pid")):
        state = {
            **(state or {}),
            "phase": "stopped",
            "services": {
                n: {**s, "state": "stopped", "pid": None}
                for n, s in (state or {}).get("services", {}).items()
            },
        }
    if as_json:  # for tools: the full database_url, as the owner-only state file holds it; the system's today
        print(json.dumps({**state, "today": Settings.from_env().clock().today().isoformat()}, indent=2))
        return
    console.print(
        f"phase: {state['phase']}   http: {state.get('http_url')}   kafka: {state.get('kafka_bootstrap_servers')}"
    )
    console.print(
        f"database: {masked(state.get('database_url'))}   postgres data: {(state.get('postgres') or {}).get('data_dir')}"
    )
    table = Table("service", "state", "pid", "restarts")
    for name, service in state.get("services", {}).items():
        table.add_row(name, service["state"], str(service.get("pid") or "-"), str(service.get("restarts", 0)))
    console.print(table)
    if state["phase"] == "running":  # health and consumer lag, as the API's /healthz reports them
        try:
            health = httpx.get(f"{state['http_url']}/healthz", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            health = {"status": "unreachable"}
        console.print(f"health: {health['status']}  " + "; ".join(health.get("reasons", [])))
        for consumer, topics in (health.get("consumer_lag") or {}).items():
            console.print(f"  lag {consumer}: " + ", ".join(f"{t} {n}" for t, n in topics.items()))


@app.command(name="seed")
def seed_command() -> None:
    """Load the demo reference data and accounts (what `make run` loads into an empty database)."""
    from ipe_claims.entrypoints.demo import is_seeded, seed

    with psycopg.connect(_database_url(), autocommit=True) as conn:
        if is_seeded(conn):
            console.print("Already seeded.")
            return
        seed(conn, Settings.from_env().clock().today())
    console.print("Demo data loaded.")


@accounts_app.command("create")
def accounts_create(
    username: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option()] = "employer",
    affiliation: Annotated[list[str] | None, typer.Option()] = None,
) -> None:
    """Create an account; an employer account needs one --affiliation or more (a compte groupe)."""
    from ipe_claims.adapters.accounts import AccountError, create_account

    with psycopg.connect(_database_url(), autocommit=True) as conn:
        try:
            create_account(conn, username, password, role, affiliation or [])
        except AccountError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    console.print(f"Account {username} ({role}) created.")


@declarations_app.command("load")
def declarations_load(path: Path) -> None:
    """Load a CSV (affiliation_number,immatriculation,cin,nom,prenoms,period,days,salary); rows replace."""
    from ipe_claims.adapters.declarations import DeclarationFileError, load_csv

    try:
        with psycopg.connect(_database_url(), autocommit=True) as conn:
            report = load_csv(conn, path)  # Postgres parses and checks the file (COPY): docs/scaling.md
    except (OSError, DeclarationFileError) as exc:
        console.print(f"[red]{exc}[/red] (nothing was loaded)")
        raise typer.Exit(1) from None
    console.print(
        f"Loaded {report.rows} declaration rows ({report.insured} insured, {report.affiliations} new affiliations)."
    )


if __name__ == "__main__":
    app()
