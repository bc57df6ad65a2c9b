"""The broker's jars are checked against the pin: a changed, extra or missing jar stops the start."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipe_claims.operations.kafka_jars import JarsError, kafka_version, pinned, verify


def _copy_of_the_pinned_names(folder: Path) -> None:
    for name in pinned():
        (folder / name).write_bytes(b"not the jar Maven Central served")


def test_the_pin_names_the_broker_of_the_pom() -> None:
    assert f"kafka_2.13-{kafka_version()}.jar" in pinned()
    assert f"kafka-clients-{kafka_version()}.jar" in pinned()


def test_a_jar_that_differs_from_the_pin_is_refused(tmp_path: Path) -> None:
    _copy_of_the_pinned_names(tmp_path)
    with pytest.raises(JarsError, match="not the pinned jar"):
        verify(tmp_path)


def test_an_extra_or_missing_jar_is_refused(tmp_path: Path) -> None:
    (tmp_path / "extra.jar").write_bytes(b"")
    with pytest.raises(JarsError) as refused:
        verify(tmp_path)
    assert "extra.jar: fetched but not pinned" in str(refused.value)
    assert f"kafka_2.13-{kafka_version()}.jar: pinned but not fetched" in str(refused.value)
