"""Run the declarations consumer: ``python -m services.declarations``.

It keeps the contribution history the projector decides from in step with ``cnss.declarations``; a
claim waiting for a declaration is settled by the projector's sweep once the line has arrived.
"""

import sys

from ipe_claims.adapters.declarations_kafka import DeclarationsConsumer
from ipe_claims.entrypoints.bootstrap import bootstrap, run_until_signalled

# The writer thread's round trips to Postgres each end by taking the GIL back from the thread that decodes
# the next poll, which holds it up to the switch interval (5 ms by default) for every one of them.
SWITCH_INTERVAL_S = 0.0005


def main() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    wiring = bootstrap("declarations")
    run_until_signalled(DeclarationsConsumer(wiring.settings, wiring.codec).run)


if __name__ == "__main__":
    main()
