"""Run the notifier: ``python -m services.notifier``."""

from ipe_claims.adapters.avro import AvroDecodeError
from ipe_claims.adapters.kafka import TrackedConsumer
from ipe_claims.bootstrap import bootstrap, run_until_signalled
from ipe_claims.settings import CLAIM_EVENTS_TOPIC
from services.notifier.messages import MessageRenderer
from services.notifier.notifier import CONSUMER_NAME, Notifier


def main() -> None:
    wiring = bootstrap("notifier")
    notifier = Notifier(wiring.app, wiring.codec, MessageRenderer())
    consumer = TrackedConsumer(
        wiring.settings, CONSUMER_NAME, [CLAIM_EVENTS_TOPIC], notifier.handle, poison=(AvroDecodeError,)
    )
    run_until_signalled(consumer.run)


if __name__ == "__main__":
    main()
