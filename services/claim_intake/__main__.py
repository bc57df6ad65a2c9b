"""Run the intake HTTP API: ``python -m services.claim_intake``."""

import uvicorn

from ipe_claims.bootstrap import bootstrap
from services.claim_intake.api import create_app


def main() -> None:
    wiring = bootstrap("api")
    app = create_app(wiring.settings, wiring.app)
    uvicorn.run(
        app, host=wiring.settings.http_host, port=wiring.settings.http_port, access_log=False, log_config=None
    )


if __name__ == "__main__":
    main()
