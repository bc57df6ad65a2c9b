"""The Apache Kafka broker's jars, fetched once from Maven Central into ``.cache/kafka/VERSION/libs``.

``infra/kafka/pom.xml`` names what to fetch; ``infra/kafka/libs.sha256`` pins what was fetched, so a
jar that changes under the same coordinates (a compromised mirror, a corrupted cache) stops the start
instead of running. ``python -m ipe_claims.operations.kafka_jars`` (``make kafka-jars``) fetches and checks;
``--record`` rewrites the pin after a deliberate version bump.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ipe_claims.settings import REPO_ROOT

POM = REPO_ROOT / "infra" / "kafka" / "pom.xml"
CHECKSUMS = REPO_ROOT / "infra" / "kafka" / "libs.sha256"
CACHE = REPO_ROOT / ".cache" / "kafka"
MIN_JAVA = 17


class JarsError(Exception):
    """The broker's jars could not be fetched, or are not the ones pinned."""


def kafka_version() -> str:
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if not found:
        raise JarsError(f"{POM} names no kafka.version")
    return found.group(1)


def libs_dir(version: str | None = None) -> Path:
    return CACHE / (version or kafka_version()) / "libs"


def java_major() -> int | None:
    """The major version of the ``java`` on PATH, or None without one."""
    if not shutil.which("java"):
        return None
    out = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8" is Java 8


def toolchain() -> tuple[bool, str]:
    """Whether Apache Kafka can run here (JDK 17+, and Maven unless the jars are cached), and why."""
    major = java_major()
    if major is None:
        return False, "no java on PATH"
    if major < MIN_JAVA:
        return False, f"java {major} on PATH, Kafka 4 needs {MIN_JAVA}+"
    if (libs_dir() / ".verified").exists():
        return True, f"java {major} and the Kafka {kafka_version()} jars cached"
    if not shutil.which("mvn"):
        return False, f"java {major} but no mvn to fetch the Kafka jars"
    return True, f"java {major} and mvn found"


def digests(folder: Path) -> dict[str, str]:
    return {jar.name: hashlib.sha256(jar.read_bytes()).hexdigest() for jar in sorted(folder.glob("*.jar"))}


def pinned() -> dict[str, str]:
    lines = [line.split() for line in CHECKSUMS.read_text().splitlines() if line and not line.startswith("#")]
    return {name: digest for digest, name in lines}


def verify(folder: Path) -> None:
    expected, found = pinned(), digests(folder)
    problems = [
        f"{name}: not the pinned jar" for name in found if expected.get(name, found[name]) != found[name]
    ]
    problems += [f"{name}: fetched but not pinned" for name in found.keys() - expected.keys()]
    problems += [f"{name}: pinned but not fetched" for name in expected.keys() - found.keys()]
    if problems:
        raise JarsError(
            f"Kafka jars in {folder} differ from {CHECKSUMS.name}: " + "; ".join(sorted(problems))
        )


def record(folder: Path) -> None:
    lines = [f"# sha256 of the jars `make kafka-jars` fetches for Apache Kafka {kafka_version()}"]
    lines += [f"{digest}  {name}" for name, digest in digests(folder).items()]
    CHECKSUMS.write_text("\n".join(lines) + "\n")


def fetch(record_pin: bool = False) -> Path:
    """The folder of verified jars, fetched with Maven when not cached yet."""
    target = libs_dir()
    if (target / ".verified").exists() and not record_pin:
        return target
    if not shutil.which("mvn"):
        raise JarsError("mvn is not on PATH: install Maven (Debian: apt-get install maven)")
    staging = target.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    fetched = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if fetched.returncode != 0:
        raise JarsError(
            f"mvn could not fetch the Kafka jars:\n{fetched.stdout[-2000:]}{fetched.stderr[-2000:]}"
        )
    if record_pin:
        record(staging)
    verify(staging)
    (staging / ".verified").touch()
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


if __name__ == "__main__":
    try:
        print(fetch(record_pin="--record" in sys.argv[1:]))
    except JarsError as exc:
        sys.exit(str(exc))
