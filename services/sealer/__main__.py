"""Run the sealer (tamper evidence: seals new events every 5 s): ``python -m services.sealer``."""

from ipe_claims.audit.seal import run
from ipe_claims.entrypoints.bootstrap import bootstrap, run_until_signalled


def main() -> None:
    wiring = bootstrap("sealer")
    run_until_signalled(lambda stop: run(wiring.settings.database.url, stop))


if __name__ == "__main__":
    main()
