"""The one shape of a long-running loop: connect, repeat a step, and on a transient fault log, wait with
a doubling backoff and connect again.

Every process's background work (the relay, the sealer, the notifier's sender and delivery projection,
the projector's sweep) is a ``step`` run here, so a database or broker outage is ridden out alike
everywhere, and a bug (any other exception) stops the loop loudly instead of being retried forever,
unless the loop's owner asks for that.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from kafka.errors import KafkaError

from ipe_claims.adapters.kafka import backoff

Connection = psycopg.Connection[Any]
# One unit of work on the connection; returns the seconds to wait before the next (0: at once).
Step = Callable[[Connection], float]
Connect = Callable[[str], AbstractContextManager[Connection]]

# Faults that pass: the database or the broker is away or restarting. The event store reports the
# database's as its own OperationalError and InterfaceError.
TRANSIENT: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg.InterfaceError,
                                          StoreOperationalError, StoreInterfaceError, KafkaError)  # fmt: skip


def autocommit(database_url: str) -> AbstractContextManager[Connection]:
    return psycopg.connect(database_url, autocommit=True)


def supervised(
    step: Step,
    stop: threading.Event,
    name: str,
    *,
    database_url: str,
    transient: tuple[type[Exception], ...] = TRANSIENT,
    survive_bugs: bool = False,
    on_fault: Callable[[Exception], None] | None = None,
    connect: Connect = autocommit,
) -> None:
    """Run ``step`` on one connection until ``stop`` is set, waiting what each step asks between them.

    A ``transient`` fault (or, with ``survive_bugs``, any exception: for work a queue keeps safe) closes
    the connection, calls ``on_fault`` (to drop what the connection held), logs ``<name>.retry`` and waits
    ``backoff(n)`` after the n-th fault in a row before connecting again; a step that succeeds resets n.
    Anything else propagates.
    """
    log = structlog.get_logger()  # a logger per loop: it follows the logging configured before it starts
    faults = 0
    while not stop.is_set():
        try:
            with connect(database_url) as conn:
                while not stop.is_set():
                    pause = step(conn)
                    faults = 0
                    if pause > 0:
                        stop.wait(pause)
        except Exception as exc:
            if not (survive_bugs or isinstance(exc, transient)):
                raise
            faults += 1
            if on_fault is not None:
                on_fault(exc)
            if isinstance(exc, transient):
                log.warning(f"{name}.retry", error=type(exc).__name__, faults=faults)
            else:  # a bug: its traceback goes to the log
                log.exception(f"{name}.error", error=type(exc).__name__, faults=faults)
            stop.wait(backoff(faults))
