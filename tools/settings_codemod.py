"""Rewrite uses of the flat settings (issue 15 point 4) to the sectioned model of ipe_claims/settings.py.

    python tools/settings_codemod.py [--check] [--no-ruff] [PATH ...]   (default: ipe_claims services tests bench)

Idempotent (a second run changes nothing), so it can be replayed after merging branches written against
the flat settings. It rewrites, in every *.py file:
- ``<settings>.database_url`` → ``<settings>.database.url`` (and every other moved field, RENAMES), where
  ``<settings>`` is an expression this script recognises as a Settings: a name or attribute ending in
  ``settings``, a call of one (``settings()``, ``Settings.from_env()``), a name annotated ``Settings`` or
  bound from such an expression in the same file, ``x[0]`` of a name annotated ``tuple[Settings, ...]``;
- ``Settings(database_url=u, kafka_fast_groups=True, home=h)`` → ``Settings().changed(database={"url": u},
  kafka={"fast_groups": True}, home=h)``: the defaults, changed;
- ``replace(s, database_url=u)`` / ``dataclasses.replace(s, ...)`` with Settings fields only →
  ``s.changed(database={"url": u})``;
- ``NotifierConfig.from_env().message_id_domain`` → ``Settings.from_env().notifier.message_id_domain``, any
  other ``NotifierConfig.from_env()`` → ``NotifierConfig.from_settings(Settings.from_env())``;
- ``Settings.<flat field>`` in comments and docstrings → ``Settings.<section>.<field>``.
Then ``ruff check --fix --select F401,I001`` and ``ruff format`` tidy the files it changed (imports of
``replace`` left unused, the lines it rewrote). What it cannot see (a Settings under another name) mypy
reports: ``mypy --strict`` after a run.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATHS = ("ipe_claims", "services", "tests", "bench")
SKIP = {ROOT / "ipe_claims" / "settings.py", Path(__file__).resolve()}

# Flat field → (section, field in the section). Fields not listed stayed at the top level.
RENAMES: dict[str, tuple[str, str]] = {
    "database_url": ("database", "url"),
    "postgres_sslmode": ("database", "sslmode"),
    "kafka_bootstrap_servers": ("kafka", "bootstrap_servers"),
    "kafka_security_protocol": ("kafka", "security_protocol"),
    "kafka_sasl_mechanism": ("kafka", "sasl_mechanism"),
    "kafka_sasl_username": ("kafka", "sasl_username"),
    "kafka_sasl_password": ("kafka", "sasl_password"),
    "kafka_ssl_cafile": ("kafka", "ssl_cafile"),
    "kafka_ssl_certfile": ("kafka", "ssl_certfile"),
    "kafka_ssl_keyfile": ("kafka", "ssl_keyfile"),
    "kafka_fast_groups": ("kafka", "fast_groups"),
    "poison_attempts": ("kafka", "poison_attempts"),
    "http_host": ("http", "host"),
    "http_port": ("http", "port"),
    "max_in_flight": ("http", "max_in_flight"),
    "rate_limit_per_minute": ("http", "rate_limit_per_minute"),
    "token_ttl_seconds": ("http", "token_ttl_seconds"),
    "ingress_metrics_port": ("http", "ingress_metrics_port"),
    "health_max_lag": ("health", "max_lag"),
    "health_stall_seconds": ("health", "stall_seconds"),
    "login_attempts_per_address_per_minute": ("login", "attempts_per_address_per_minute"),
    "max_password_checks": ("login", "max_password_checks"),
}
TOP_LEVEL = {"home", "schemas_dir", "nice_step", "require_tls", "clock_shift_days"}
FLAT_FIELDS = set(RENAMES) | TOP_LEVEL


@dataclass(frozen=True)
class Edit:
    start: int  # byte offsets in the file
    end: int
    make: Callable[[], str]


class Module:
    """One file: its source, what in it is a Settings, and the edits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.source = path.read_bytes()
        self.tree = ast.parse(self.source, str(path))
        self.lines = [0]
        for line in self.source.splitlines(keepends=True):
            self.lines.append(self.lines[-1] + len(line))
        self.settings_names, self.settings_tuples = self._settings_names()
        self.edits: list[Edit] = []
        self.skipped: list[str] = []

    def offset(self, line: int, col: int) -> int:
        return self.lines[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (
            self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
            self.offset(node.end_lineno, node.end_col_offset),  # type: ignore[attr-defined]
        )

    def render(self, start: int, end: int) -> str:
        """The source between two offsets with the outermost edits inside applied."""
        out, at = [], start
        inside = [e for e in self.edits if start <= e.start and e.end <= end]
        for edit in sorted(inside, key=lambda e: (e.start, -e.end)):
            if edit.start < at:
                continue  # inside an edit already rendered
            out.append(self.source[at : edit.start].decode())
            out.append(edit.make())
            at = edit.end
        out.append(self.source[at:end].decode())
        return "".join(out)

    def text(self, node: ast.AST) -> str:
        return self.render(*self.span(node))

    # Which expressions are a Settings.

    def _settings_names(self) -> tuple[set[str], set[str]]:
        names: set[str] = set()
        tuples: set[str] = set()
        for node in ast.walk(self.tree):
            annotated = [(a.arg, a.annotation) for a in _arguments(node)]
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                annotated.append((node.target.id, node.annotation))
            for name, annotation in annotated:
                shown = ast.unparse(annotation) if annotation is not None else ""
                if re.fullmatch(r"Settings( \| None)?", shown):
                    names.add(name)
                elif re.match(r"tuple\[Settings\b", shown):
                    tuples.add(name)
        while True:  # names bound from a Settings expression, until nothing new
            known = len(names)
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Assign) and self._is_settings(node.value, names, tuples):
                    names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            if len(names) == known:
                return names, tuples

    def is_settings(self, node: ast.expr) -> bool:
        return self._is_settings(node, self.settings_names, self.settings_tuples)

    def _is_settings(self, node: ast.expr, names: set[str], tuples: set[str]) -> bool:
        if isinstance(node, ast.Name):
            return node.id in names or node.id.lower().endswith("settings")
        if isinstance(node, ast.Attribute):
            if node.attr in ("changed", "from_env"):
                owner = node.value
                return (isinstance(owner, ast.Name) and owner.id == "Settings") or self._is_settings(
                    owner, names, tuples
                )
            return node.attr.lower().endswith("settings")
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "Settings":
                return True
            if _is_replace(func) and node.args and self._is_settings(node.args[0], names, tuples):
                return True
            return self._is_settings(func, names, tuples)
        if isinstance(node, ast.Subscript):
            return (
                isinstance(node.value, ast.Name)
                and node.value.id in tuples
                and ast.unparse(node.slice) == "0"
            )
        return False

    # The rewrites.

    def collect(self) -> None:
        done: set[int] = set()  # calls an enclosing rewrite took care of
        for node in ast.walk(self.tree):  # breadth first: an attribute before its call
            if isinstance(node, ast.Attribute) and node.attr in RENAMES and self.is_settings(node.value):
                self._rename(node)
            elif node_is_config_field(node):
                done.add(id(node.value))
                start, end = self.span(node.value)
                self.edits.append(Edit(start, end, lambda: "Settings.from_env().notifier"))
            elif isinstance(node, ast.Call) and id(node) not in done:
                self._call(node)

    def _rename(self, node: ast.Attribute) -> None:
        start, end = self.span(node.value)[1], self.span(node)[1]
        section, field = RENAMES[node.attr]
        self.edits.append(Edit(start, end, lambda: f".{section}.{field}"))

    def _call(self, node: ast.Call) -> None:
        func = node.func
        keywords = {k.arg for k in node.keywords}
        flat = bool(node.keywords) and None not in keywords and keywords <= FLAT_FIELDS
        if (
            isinstance(func, ast.Name)
            and func.id == "Settings"
            and not node.args
            and flat
            and keywords & set(RENAMES)
        ):
            self._edit_call(node, lambda: "Settings().changed", node.keywords)
        elif (
            _is_replace(func)
            and len(node.args) == 1
            and flat
            and (self.is_settings(node.args[0]) or keywords & set(RENAMES))
        ):
            target = node.args[0]
            self._edit_call(node, lambda: f"{self.text(target)}.changed", node.keywords)
        elif ast.unparse(func) == "NotifierConfig.from_env" and not node.args and not node.keywords:
            start, end = self.span(node)
            self.edits.append(Edit(start, end, lambda: "NotifierConfig.from_settings(Settings.from_env())"))

    def _edit_call(self, node: ast.Call, head: Callable[[], str], keywords: list[ast.keyword]) -> None:
        start, end = self.span(node)
        if _has_comment(self.source[start:end]):
            self.skipped.append(f"{self.path}:{node.lineno}: a comment inside the call: rewrite it by hand")
            return
        indent = len(self.source[self.lines[node.lineno - 1] : start]) - len(
            self.source[self.lines[node.lineno - 1] : start].lstrip()
        )
        multiline = node.end_lineno != node.lineno

        def make() -> str:
            arguments: list[str] = []
            sections: dict[str, list[str]] = {}
            for keyword in keywords:
                value = self.text(keyword.value)
                if keyword.arg in RENAMES:
                    section, field = RENAMES[keyword.arg]
                    if section not in sections:
                        sections[section] = []
                        arguments.append(section)  # a placeholder, in the order of first appearance
                    sections[section].append(f'"{field}": {value}')
                else:
                    arguments.append(f"{keyword.arg}={value}")
            arguments = [f"{a}={{{', '.join(sections[a])}}}" if a in sections else a for a in arguments]
            if not multiline:
                return f"{head()}({', '.join(arguments)})"
            pad = " " * (indent + 4)
            return f"{head()}(\n" + "".join(f"{pad}{a},\n" for a in arguments) + " " * indent + ")"

        # A "# fmt: skip" kept the old call's hand layout; the rewritten one is left to the formatter.
        if skip := re.match(rb"[ \t]*# fmt: skip[ \t]*(?=\r?\n|$)", self.source[end:]):
            end += skip.end()
        self.edits.append(Edit(start, end, make))

    def comments(self, text: str) -> str:
        """``Settings.kafka_fast_groups`` in prose (comments, docstrings) → ``Settings.kafka.fast_groups``."""
        pattern = r"\bSettings\.(" + "|".join(RENAMES) + r")\b"
        return re.sub(pattern, lambda m: "Settings.{}.{}".format(*RENAMES[m.group(1)]), text)

    def rewritten(self) -> str:
        self.collect()
        return self.comments(self.render(0, len(self.source)))


def node_is_config_field(node: ast.AST) -> TypeGuard[ast.Attribute]:
    """``NotifierConfig.from_env().message_id_domain``: the field is the settings' own."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "message_id_domain"
        and ast.unparse(node.value) == "NotifierConfig.from_env()"
    )


def _arguments(node: ast.AST) -> Iterator[ast.arg]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = node.args
        yield from [*a.posonlyargs, *a.args, *a.kwonlyargs]


def _is_replace(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id == "replace") or (
        isinstance(func, ast.Attribute)
        and func.attr == "replace"
        and ast.unparse(func.value) == "dataclasses"
    )


def _has_comment(code: bytes) -> bool:
    import io
    import tokenize

    try:
        tokens = list(tokenize.tokenize(io.BytesIO(b"(" + code + b")").readline))
    except (tokenize.TokenError, SyntaxError):
        return True
    return any(token.type == tokenize.COMMENT for token in tokens)


def files(paths: list[str]) -> Iterator[Path]:
    for name in paths:
        path = (ROOT / name).resolve()
        candidates = [path] if path.is_file() else sorted(path.rglob("*.py"))
        yield from (p for p in candidates if p not in SKIP and ".venv" not in p.parts)


def tidy(changed: list[Path]) -> None:
    ruff = shutil.which("ruff", path=str(ROOT / ".venv" / "bin")) or shutil.which("ruff")
    if not ruff:
        print(
            "ruff not found: run `ruff check --fix --select F401,I001` and `ruff format` on the changed files"
        )
        return
    names = [str(p) for p in changed]
    subprocess.run([ruff, "check", "--quiet", "--fix", "--select", "F401,I001", *names], check=False)
    subprocess.run([ruff, "format", "--quiet", *names], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("paths", nargs="*", default=list(DEFAULT_PATHS))
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    parser.add_argument("--no-ruff", action="store_true", help="do not run ruff on the changed files")
    options = parser.parse_args()
    changed: list[Path] = []
    for path in files(options.paths):
        module = Module(path)
        new = module.rewritten()
        for line in module.skipped:
            print(line, file=sys.stderr)
        if new.encode() != module.source:
            changed.append(path)
            if not options.check:
                path.write_text(new)
    for path in changed:
        print(("would rewrite " if options.check else "rewrote ") + str(path.relative_to(ROOT)))
    if changed and not options.check and not options.no_ruff:
        tidy(changed)
    return 1 if options.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
