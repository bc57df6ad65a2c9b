"""Run the intake HTTP API: ``python -m services.claim_intake``."""

import uvicorn

from ipe_claims.entrypoints.bootstrap import bootstrap
from services.claim_intake.api import create_app


def main() -> None:
    wiring = bootstrap("api")
    app = create_app(wiring.settings, wiring.app)
    # uvloop and httptools: the event loop and the HTTP parser in C leave the GIL to the requests' work.
    uvicorn.run(app, host=wiring.settings.http.host, port=wiring.settings.http.port, access_log=False,
                log_config=None, loop="uvloop", http="httptools")  # fmt: skip


if __name__ == "__main__":
    main()
