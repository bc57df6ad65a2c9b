"""``ipe up``, ``down``, ``status`` and ``seed``: run the system locally and see what runs where."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from ipe_claims.entrypoints.cli.context import connect, console, home, print_json, row, settings, table
from ipe_claims.operations.private import make_private, masked
from ipe_claims.operations.supervisor import Supervisor, pid_alive, read_state

app = typer.Typer()
IPE = [sys.executable, "-m", "ipe_claims.entrypoints.cli"]  # this command, as `up --detach` runs it again


def _wait_healthy(home: Path, timeout: float, supervisor_pid: int) -> dict[str, Any]:
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


def print_welcome(state: dict[str, Any]) -> None:
    """Where everything listens, the demo's accounts, and the first requests to try."""
    from ipe_claims.operations.demo import DEMO_AUDITOR, DEMO_EMPLOYER, INSURED

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
        f'-d \'{{"affiliation_number":"1234567","immatriculation":"100000001","job_loss_date":"{settings().clock().today().isoformat()}","motif_code":"licenciement_economique","attestation":true}}\''
    )
    console.print(f'  curl -s {url}/api/v1/claims -H "Authorization: Bearer $TOKEN"')


def _kafka_security(state: dict[str, Any]) -> str:
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
    config = settings()
    kind = "embedded" if config.kafka.bootstrap_servers else _choose_broker(broker.value)
    state = read_state(config.home)
    if state and pid_alive(state.get("supervisor_pid")) and state.get("phase") != "stopped":
        console.print(f"[yellow]Already running in {config.home} (pid {state['supervisor_pid']}).[/yellow]")
        raise typer.Exit(1)
    make_private(config.home)  # before anything is written there (docs/operations.md, Files and secrets)
    (config.home / "logs").mkdir(exist_ok=True)
    (config.home / "state.json").unlink(missing_ok=True)
    if detach:  # the supervisor runs on in a process of its own: this command, without --detach
        with open(config.home / "logs" / "supervisor.log", "ab") as log:
            child = subprocess.Popen(
                [*IPE, "up", "--broker", kind, "--brokers", str(brokers)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "IPE_QUIET": "1"},
            )
        print_welcome(_wait_healthy(config.home, timeout, child.pid))
        return
    supervisor = Supervisor(config.home, config.http.port, broker_kind=kind, broker_count=brokers)
    if not os.environ.get("IPE_QUIET"):
        threading.Thread(
            target=lambda: print_welcome(_wait_healthy(config.home, timeout, os.getpid())), daemon=True
        ).start()
    supervisor.run()


@app.command()
def down(timeout: float = 60.0) -> None:
    """Stop everything `ipe up` started in $IPE_HOME; no process is left behind."""
    state = read_state(home())
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
        last = read_state(home()) or state
        for process in [*last["services"].values(), *last.get("brokers", [])]:
            if pid_alive(process.get("pid")):
                os.kill(process["pid"], signal.SIGKILL)
    console.print("Stopped.")


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """What runs where, with each service's state, pid and restarts."""
    config = settings()
    state = read_state(config.home)
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
        print_json({**state, "today": config.clock().today().isoformat()})
        return
    console.print(
        f"phase: {state['phase']}   http: {state.get('http_url')}   kafka: {state.get('kafka_bootstrap_servers')}"
    )
    console.print(
        f"database: {masked(state.get('database_url'))}   postgres data: {(state.get('postgres') or {}).get('data_dir')}"
    )
    services = table("service", "state", "pid", "restarts")
    for name, service in state.get("services", {}).items():
        row(services, name, service["state"], str(service.get("pid") or "-"), str(service.get("restarts", 0)))
    console.print(services)
    if state["phase"] == "running":  # health and consumer lag, as the API's /healthz reports them
        try:
            health = httpx.get(f"{state['http_url']}/healthz", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            health = {"status": "unreachable"}
        console.print(f"health: {health['status']}  " + "; ".join(health.get("reasons", [])))
        for consumer, topics in (health.get("consumer_lag") or {}).items():
            console.print(f"  lag {consumer}: " + ", ".join(f"{t} {n}" for t, n in topics.items()))


@app.command()
def seed() -> None:
    """Load the demo reference data and accounts (what `make run` loads into an empty database)."""
    from ipe_claims.operations.demo import is_seeded
    from ipe_claims.operations.demo import seed as load_demo

    with connect() as conn:
        if is_seeded(conn):
            console.print("Already seeded.")
            return
        load_demo(conn, settings().clock().today())
    console.print("Demo data loaded.")
