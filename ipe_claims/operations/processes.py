"""The processes `ipe up` runs, by name: the module each runs with ``python -m``."""

SERVICES = {
    "api": "services.claim_intake",
    "relay": "services.relay",
    "projector": "services.eligibility_projector",
    "notifier": "services.notifier",
    "ingress": "services.ingress",
    "declarations": "services.declarations",
    "sealer": "services.sealer",  # tamper evidence: seals new events every 5 s
}
