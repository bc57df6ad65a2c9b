"""Run the eligibility projector: ``python -m services.eligibility_projector``.

Two loops: the Kafka consumer that decides claims, and beside it the sweep that settles claims whose
declarations have arrived since."""

from ipe_claims.entrypoints.bootstrap import bootstrap, run_until_signalled
from services.eligibility_projector.projector import EligibilityProjector


def main() -> None:
    wiring = bootstrap("projector")
    projector = EligibilityProjector(wiring.app, wiring.codec, wiring.settings.clock())
    run_until_signalled(
        projector.consumer(wiring.settings).run,
        lambda stop: projector.run_sweeps(wiring.settings.database.url, stop),
    )


if __name__ == "__main__":
    main()
