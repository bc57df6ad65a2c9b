"""Wiring for one process: settings from the environment, JSON logs, CPU priority, the event store, the
codec. Every ``services/<process>/__main__.py`` starts with ``bootstrap(process)``; the CLI takes its
settings from ``cli_settings``."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import structlog

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.event_store import make_app
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings


def configure_logging(process: str) -> None:
    """One JSON line per log event on stderr. Callers log ids and codes only, never names, CIN or salaries.

    Libraries that log through the standard library (kafka-python, psycopg's pool, uvicorn) get the same
    JSON shape through structlog's ProcessorFormatter, so a log shipper reads every line alike.
    """
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
        )
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(process=process, pid=os.getpid())


# Who waits on each process: 0 an employer on the page (the API), 1 the decision the employer expects
# soon, 2 nobody (messages, declaration loads, seals). A tier runs at nice = tier x settings.nice_step.
PRIORITY_TIERS = {"api": 0, "ingress": 1, "relay": 1, "projector": 1, "notifier": 2, "declarations": 2,
                  "sealer": 2}  # fmt: skip


def take_priority(process: str, settings: Settings) -> None:
    """Lower this process's CPU priority by its tier: when a surge saturates the host, requests go first,
    then decisions, then side work (Postgres keeps its own priority). Every backlog is durable."""
    if nice := PRIORITY_TIERS.get(process, 2) * max(0, settings.nice_step):
        os.nice(nice)


@dataclass(frozen=True)
class Wiring:
    """What a process is wired with. The event store and the codec are made on first use: the sealer
    needs neither."""

    settings: Settings

    @cached_property
    def app(self) -> ClaimsApplication:
        return make_app(self.settings)

    @cached_property
    def codec(self) -> AvroCodec:
        return AvroCodec(self.settings.schemas_dir)


def bootstrap(process: str, settings: Settings | None = None) -> Wiring:
    """The one start of every process: its settings (from the environment unless given), JSON logs
    tagged with ``process``, and the CPU priority of its tier."""
    settings = settings or Settings.from_env()
    configure_logging(process)
    # `kill -USR1 <pid>` writes every thread's stack to the process's log: what a stuck process waits on,
    # without stopping it (no personal data: code locations only).
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    take_priority(process, settings)
    return Wiring(settings)


def cli_settings(env: Mapping[str, str] = os.environ) -> Settings:
    """The CLI's settings: the environment's, and where DATABASE_URL or KAFKA_BOOTSTRAP_SERVERS is unset,
    those of the instance ``ipe up`` runs in $IPE_HOME (on Kafka as its admin when the broker
    authenticates). The CLI says what is missing when neither has them."""
    # Imported here: the service processes never need the local instance's tooling.
    from ipe_claims.operations.kafka_access import admin_env
    from ipe_claims.operations.supervisor import read_state

    settings = Settings.from_env(env)
    local: dict[str, str] = {}
    if not (env.get("DATABASE_URL") and env.get("KAFKA_BOOTSTRAP_SERVERS")):
        state = read_state(settings.home) or {}
        if not env.get("DATABASE_URL"):
            local["DATABASE_URL"] = str(state.get("database_url") or "")
        if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
            local["KAFKA_BOOTSTRAP_SERVERS"] = str(state.get("kafka_bootstrap_servers") or "")
            local |= admin_env(settings.home)
    return Settings.from_env({**env, **local}) if local else settings


Loop = Callable[[threading.Event], None]


def run_until_signalled(main: Loop, *beside: Loop) -> None:
    """Run ``main(stop)``, and each loop ``beside`` it in a thread of its own, until SIGTERM or SIGINT sets
    ``stop``; then give those threads 30 s to finish their turn (they are daemons: a stuck one does not
    keep the process)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    structlog.get_logger().info("process.started")
    threads = [threading.Thread(target=loop, args=(stop,), daemon=True) for loop in beside]
    for thread in threads:
        thread.start()
    main(stop)
    stop.set()  # main ended by itself (it does not, short of a bug): the others end too
    for thread in threads:
        thread.join(timeout=30)
    structlog.get_logger().info("process.stopped")
