"""Prometheus metrics of the intake (HTTP API and Kafka ingress), in the default registry.

Labels stay low-cardinality: route templates, never paths with ids; refusal codes, never inputs.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("ipe_http_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("ipe_http_request_duration_seconds", "HTTP request latency", ["method", "route"])
SUBMISSIONS = Counter(
    "ipe_claim_submissions",
    "Claim submissions by channel and outcome (accepted, replayed, or the refusal code)",
    ["channel", "outcome"],
)
SHED = Counter("ipe_http_shed", "Requests refused with 503 because too many were being served")
DEAD_LETTERS = Counter("ipe_dead_letters", "Ingress messages published to ipe.dead-letters", ["code"])
