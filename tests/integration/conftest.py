"""The three consumers of the pipeline, run in threads of the test process against the harness servers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ipe_claims.adapters.avro import AvroCodec, AvroDecodeError
from ipe_claims.adapters.kafka import TrackedConsumer
from ipe_claims.application import ClaimsApplication
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, Settings
from services.claim_intake.relay import Relay
from services.eligibility_projector.projector import CONSUMER_NAME as PROJECTOR
from services.eligibility_projector.projector import EligibilityProjector
from services.notifier.messages import MessageRenderer
from services.notifier.notifier import CONSUMER_NAME as NOTIFIER
from services.notifier.notifier import Notifier

pytestmark = pytest.mark.integration


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
    projector = EligibilityProjector(claims_app, codec)
    notifier = Notifier(claims_app, codec, MessageRenderer())
    stop = threading.Event()
    loops = [
        Relay(settings, claims_app, codec).run,
        TrackedConsumer(
            settings, PROJECTOR, [CLAIM_EVENTS_TOPIC], projector.handle, poison=(AvroDecodeError,)
        ).run,
        TrackedConsumer(
            settings, NOTIFIER, [CLAIM_EVENTS_TOPIC], notifier.handle, poison=(AvroDecodeError,)
        ).run,
    ]
    threads = [threading.Thread(target=loop, args=(stop,), daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    yield Pipeline(codec, projector, notifier)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
