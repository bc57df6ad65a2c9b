"""Run the eligibility projector: ``python -m services.eligibility_projector``."""

import threading

from ipe_claims.entrypoints.bootstrap import bootstrap, run_until_signalled
from services.eligibility_projector.projector import EligibilityProjector


def main() -> None:
    wiring = bootstrap("projector")
    projector = EligibilityProjector(wiring.app, wiring.codec, wiring.settings.clock())
    consumer = projector.consumer(wiring.settings)

    def run(stop: threading.Event) -> None:
        sweeps = threading.Thread(target=projector.run_sweeps, args=(wiring.settings.database_url, stop))
        sweeps.start()
        consumer.run(stop)
        sweeps.join()

    run_until_signalled(run)


if __name__ == "__main__":
    main()
