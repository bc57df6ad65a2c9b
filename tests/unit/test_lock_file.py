"""What a fresh machine installs is the lock file alone (`make install`): every dependency pyproject.toml
names must be pinned there, or CI would run without it."""

from __future__ import annotations

import re
import tomllib

from ipe_claims.settings import REPO_ROOT


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_dependency_of_pyproject_is_pinned_with_hashes_in_the_lock() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    lock = (REPO_ROOT / "requirements.lock").read_text()
    pinned = {m.group(1).lower().replace("_", "-") for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==", lock, re.M)}
    assert wanted - pinned == set(), "run `make lock`"
    assert lock.count("--hash=sha256:") >= len(pinned)
