"""tools/settings_codemod.py, replayed after merges, rewrites flat settings to their sections and then
finds nothing more to do."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from ipe_claims.settings import REPO_ROOT

BEFORE = """\
from dataclasses import replace

from ipe_claims.settings import Settings


def serve(settings: Settings, config: Settings, system: object) -> None:
    own = replace(settings, database_url=settings.database_url + "x", rate_limit_per_minute=5)
    print(own.database_url, config.kafka_bootstrap_servers, settings.home, system.database_url)
    print(Settings.from_env().http_port, wiring.settings.max_in_flight)
    made = Settings(database_url="u", kafka_bootstrap_servers="", home=home, kafka_fast_groups=True)
"""

AFTER = """\
from dataclasses import replace

from ipe_claims.settings import Settings


def serve(settings: Settings, config: Settings, system: object) -> None:
    own = settings.changed(database={"url": settings.database.url + "x"}, http={"rate_limit_per_minute": 5})
    print(own.database.url, config.kafka.bootstrap_servers, settings.home, system.database_url)
    print(Settings.from_env().http.port, wiring.settings.http.max_in_flight)
    made = Settings().changed(database={"url": "u"}, kafka={"bootstrap_servers": "", "fast_groups": True}, home=home)
"""


def codemod() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "settings_codemod", REPO_ROOT / "tools" / "settings_codemod.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_flat_settings_become_sections_once(tmp_path: Path) -> None:
    tool, path = codemod(), tmp_path / "user.py"
    path.write_text(BEFORE)
    assert tool.Module(path).rewritten() == AFTER  # what is not a Settings (system) is left alone
    path.write_text(AFTER)
    assert tool.Module(path).rewritten() == AFTER  # idempotent: a second run changes nothing


def test_the_repository_has_no_flat_settings_left() -> None:
    tool = codemod()
    pending = [p for p in tool.files(list(tool.DEFAULT_PATHS)) if tool.Module(p).rewritten() != p.read_text()]
    assert pending == [], "run `python tools/settings_codemod.py`"
