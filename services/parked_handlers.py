"""Each service consumer's handler by consumer name, for ``ipe parked replay``: a parked record is replayed
by the very code that failed on it (the fixed version of it, once deployed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.declarations_kafka import CONSUMER_NAME as DECLARATIONS
from ipe_claims.adapters.declarations_kafka import DeclarationsConsumer
from ipe_claims.adapters.parked import Handler
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from services.eligibility_projector.projector import CONSUMER_NAME as PROJECTOR
from services.eligibility_projector.projector import EligibilityProjector
from services.ingress.ingress import CONSUMER_NAME as INGRESS
from services.ingress.ingress import Ingress
from services.notifier.config import NotifierConfig
from services.notifier.messages import MessageRenderer
from services.notifier.notifier import CONSUMER_NAME as NOTIFIER
from services.notifier.notifier import Notifier


@contextmanager
def consumer_handlers(
    settings: Settings, app: ClaimsApplication, codec: AvroCodec
) -> Iterator[dict[str, Handler]]:
    """The handlers, each as its consumer calls it (the ingress's dead-letter producer closed at the end)."""
    ingress = Ingress(settings, app, codec)
    notifier = Notifier(app, codec, MessageRenderer(), NotifierConfig.from_env().message_id_domain)
    try:
        yield {
            PROJECTOR: EligibilityProjector(app, codec, settings.clock()).handle,
            NOTIFIER: lambda conn, record: notifier.handle_batch(conn, [record]),
            INGRESS: ingress.handle,
            DECLARATIONS: DeclarationsConsumer(settings, codec).replay,
        }
    finally:
        ingress._close_producer()
