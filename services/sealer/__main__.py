"""Run the sealer (tamper evidence: seals new events every 5 s): ``python -m services.sealer``."""

from ipe_claims.audit.seal import run
from ipe_claims.entrypoints.bootstrap import configure_logging, run_until_signalled, take_priority
from ipe_claims.settings import Settings


def main() -> None:
    configure_logging("sealer")
    settings = Settings.from_env()
    take_priority("sealer", settings)
    run_until_signalled(lambda stop: run(settings.database_url, stop))


if __name__ == "__main__":
    main()
