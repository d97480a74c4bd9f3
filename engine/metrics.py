"""Prometheus metrics of the engine (``GET /metrics``), one registry per process.

Names and labels are part of the operator's contract (docs/operations.md, "Metrics and health"):
- callflow_calls_total{outcome}          finished calls: answered, voicemail, hangup,
                                          missed, refused
- callflow_calls_active                   calls in progress
- callflow_calls_refused_total{reason}    capacity, draining, unknown_number
- callflow_attempts_total{result}         forward attempts: answered, no_answer, busy,
                                          failed, caller_gone
- callflow_plan_seconds                   time to plan a call (histogram)
- callflow_call_setup_seconds             connection accepted -> first call command
- callflow_voicemails_total{result}       handed_over, too_short, lost
- callflow_voicemail_emails_total{result} sent, deferred (will retry), failed (moved to failed/)
- callflow_voicemail_spool_jobs{state}    jobs in the spool: pending, failed
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

# The *_created series double the exposition for no operational value.
disable_created_metrics()

REGISTRY = CollectorRegistry(auto_describe=True)

CALLS = Counter("callflow_calls", "Finished calls by outcome", ["outcome"], registry=REGISTRY)
ACTIVE = Gauge("callflow_calls_active", "Calls in progress", registry=REGISTRY)
REFUSED = Counter("callflow_calls_refused", "Calls refused", ["reason"], registry=REGISTRY)
ATTEMPTS = Counter("callflow_attempts", "Forward attempts by result", ["result"], registry=REGISTRY)
PLAN_SECONDS = Histogram(
    "callflow_plan_seconds", "Time to plan a call", registry=REGISTRY,
    buckets=(5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2),
)
SETUP_SECONDS = Histogram(
    "callflow_call_setup_seconds", "Accepted connection to first call command", registry=REGISTRY,
    buckets=(5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.5, 1.0),
)
RULES_INVALID = Counter("callflow_rules_invalid_entries", "Stored numbers refused by validation "
                        "(Redis; the previous version stays in force)", registry=REGISTRY)
VOICEMAILS = Counter("callflow_voicemails", "Voicemails by result", ["result"], registry=REGISTRY)
VOICEMAIL_EMAILS = Counter("callflow_voicemail_emails", "Voicemail e-mail attempts by result",
                           ["result"], registry=REGISTRY)
VOICEMAIL_SPOOL = Gauge("callflow_voicemail_spool_jobs", "Voicemail e-mail jobs in the spool",
                        ["state"], registry=REGISTRY)


def exposition() -> bytes:
    return generate_latest(REGISTRY)
