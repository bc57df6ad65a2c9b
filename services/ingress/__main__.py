"""Run the Kafka ingress (the portals' submissions to claims): ``python -m services.ingress``."""

from prometheus_client import start_http_server

from ipe_claims.entrypoints.bootstrap import bootstrap, run_until_signalled
from services.ingress.ingress import Ingress


def main() -> None:
    wiring = bootstrap("ingress")
    if wiring.settings.http.ingress_metrics_port:
        start_http_server(wiring.settings.http.ingress_metrics_port, addr=wiring.settings.http.host)
    run_until_signalled(Ingress(wiring.settings, wiring.app, wiring.codec).run)


if __name__ == "__main__":
    main()
