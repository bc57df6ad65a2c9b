"""Every log line is JSON, those of libraries that log through the standard library included."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
import structlog

from ipe_claims.entrypoints.bootstrap import configure_logging


def test_a_library_warning_is_a_json_line_like_ours(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("unit")
    logging.getLogger("kafka.conn").warning("Unable to connect to %s", "127.0.0.1:9")
    structlog.get_logger().info("claim.projected", claim_id="c-1")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["event"] == "Unable to connect to 127.0.0.1:9"
    assert lines[0]["level"] == "warning" and lines[0]["logger"] == "kafka.conn"
    assert lines[1]["event"] == "claim.projected" and lines[1]["claim_id"] == "c-1"
    assert {"timestamp", "process", "pid"} <= set(lines[0]) & set(lines[1])


def test_kafka_info_chatter_stays_out(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("unit")
    logging.getLogger("kafka.coordinator").info("joined group")
    assert capsys.readouterr().err == ""


def test_sigusr1_writes_every_threads_stack_to_the_log_and_the_process_goes_on() -> None:
    """What a stuck process waits on, without stopping it: ``kill -USR1 <pid>`` (docs/operations.md)."""
    script = (
        "import os, signal, sys, threading\n"
        "from ipe_claims.entrypoints.bootstrap import bootstrap\n"
        "bootstrap('unit')\n"
        "threading.Thread(target=threading.Event().wait, name='waiter', daemon=True).start()\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
        "print('still here', file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "IPE_NICE_STEP": "0"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Current thread" in done.stderr and done.stderr.count("Thread 0x") >= 1  # the waiter's too
    assert done.stderr.rstrip().endswith("still here")
