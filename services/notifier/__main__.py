"""Run the notifier: ``python -m services.notifier``.

Three loops in one process: the Kafka consumer that requests messages, and beside it the sender that
delivers them and the projection that keeps the delivery log in step with the store.
"""

import structlog

from ipe_claims.entrypoints.bootstrap import bootstrap, run_until_signalled
from services.notifier.config import NotifierConfig
from services.notifier.messages import MessageRenderer
from services.notifier.notifier import Notifier
from services.notifier.projection import DeliveryProjection
from services.notifier.sender import Sender


def main() -> None:
    wiring = bootstrap("notifier")
    config = NotifierConfig.from_settings(wiring.settings)
    renderer = MessageRenderer()
    notifier = Notifier(wiring.app, wiring.codec, renderer, config.message_id_domain)
    sender = Sender(wiring.settings, wiring.app, renderer, config)
    projection = DeliveryProjection(wiring.settings, wiring.app)
    structlog.get_logger().info("notifier.channels", configured=sender.channels)
    run_until_signalled(notifier.consumer(wiring.settings).run, sender.run, projection.run)


if __name__ == "__main__":
    main()
