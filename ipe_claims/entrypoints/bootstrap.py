"""Wiring for one process: settings from the environment, JSON logs, the event store, the codec."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

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
    settings: Settings
    app: ClaimsApplication
    codec: AvroCodec


def bootstrap(process: str, settings: Settings | None = None) -> Wiring:
    settings = settings or Settings.from_env()
    configure_logging(process)
    take_priority(process, settings)
    return Wiring(settings, make_app(settings), AvroCodec(settings.schemas_dir))


def run_until_signalled(loop: Callable[[threading.Event], None]) -> None:
    """Run ``loop(stop)`` until SIGTERM or SIGINT sets ``stop``."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    structlog.get_logger().info("process.started")
    loop(stop)
    structlog.get_logger().info("process.stopped")
