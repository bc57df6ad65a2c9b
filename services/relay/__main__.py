"""Run the relay (the store's events to ``ipe.claim-events``): ``python -m services.relay``."""

from ipe_claims.entrypoints.bootstrap import bootstrap, run_until_signalled
from services.relay.relay import Relay


def main() -> None:
    wiring = bootstrap("relay")
    run_until_signalled(Relay(wiring.settings, wiring.app, wiring.codec).run)


if __name__ == "__main__":
    main()
