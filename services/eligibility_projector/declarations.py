"""Run the declarations consumer: ``python -m services.eligibility_projector.declarations``.

It keeps the contribution history the projector decides from in step with ``cnss.declarations``; a
claim waiting for a declaration is settled by the projector's sweep once the line has arrived.
"""

from ipe_claims.adapters.declarations_kafka import DeclarationsConsumer
from ipe_claims.bootstrap import bootstrap, run_until_signalled


def main() -> None:
    wiring = bootstrap("declarations")
    run_until_signalled(DeclarationsConsumer(wiring.settings, wiring.codec).run)


if __name__ == "__main__":
    main()
