"""The three consumers of the pipeline, run in threads of the test process against the harness servers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.operations.local import free_port
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from services.eligibility_projector.projector import CONSUMER_NAME as PROJECTOR
from services.eligibility_projector.projector import EligibilityProjector
from services.notifier.messages import MessageRenderer
from services.notifier.notifier import CONSUMER_NAME as NOTIFIER
from services.notifier.notifier import Notifier
from services.relay.relay import Relay
from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def no_server_error(response: httpx.Response) -> None:
    """A response hook: no request in the API tests may end in a 5xx."""
    response.read()
    assert response.status_code < 500, f"{response.request.url}: {response.status_code} {response.text}"


@contextmanager
def api_client(settings: Settings, store: ClaimsApplication) -> Iterator[TestClient]:
    """The API in process, its lifespan run, failing any test that gets a 5xx."""
    with TestClient(create_app(settings, store)) as test_client:
        test_client.event_hooks = {"request": [], "response": [no_server_error]}
        yield test_client


@contextmanager
def served_api(settings: Settings, store: ClaimsApplication) -> Iterator[str]:
    """The API on a real port (uvicorn in a thread), for truly parallel requests; yields its base URL."""
    with served(create_app(settings, store)) as url:
        yield url


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` on a real port (uvicorn in a thread); yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, what="the live API")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Pipeline:
    codec: AvroCodec
    projector: EligibilityProjector
    notifier: Notifier


@pytest.fixture(scope="session")
def codec(settings: Settings) -> AvroCodec:
    return AvroCodec(settings.schemas_dir)


@pytest.fixture(scope="session")
def pipeline(settings: Settings, claims_app: ClaimsApplication, codec: AvroCodec) -> Iterator[Pipeline]:
    projector = EligibilityProjector(claims_app, codec, settings.clock())
    notifier = Notifier(claims_app, codec, MessageRenderer())
    stop = threading.Event()
    loops = [
        Relay(settings, claims_app, codec).run,
        projector.consumer(settings, PROJECTOR).run,
        notifier.consumer(settings, NOTIFIER).run,
    ]
    threads = [threading.Thread(target=loop, args=(stop,), daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    yield Pipeline(codec, projector, notifier)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
