"""Export: a flow as a standalone webhook module, `webhook.py`, beside its `flow.json`."""

from __future__ import annotations

import ast
import json
import re
import textwrap
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from ..__about__ import __version__
from ..core.environments import ResolveError
from ..core.errors import JaxlDesignerError
from ..core.examples import EXAMPLES
from ..core.fileformat import dumps
from ..core.files import write_atomic
from ..core.flow import Flow
from ..core.prepare import prepare
from ..core.validation import Problem, errors, validate

__all__ = [
    "FILES",
    "ExportError",
    "ExportResult",
    "export",
    "export_examples",
    "generate_gunicorn_conf",
    "generate_webhook",
]

#: The files an export writes, always these names, always in the output folder itself.
FILES = ("flow.json", "webhook.py", "gunicorn.conf.py")
#: A line every generated webhook starts with: how an export knows a file is its own.
MARKER = '"""Jaxl webhook for the flow '
#: How the generated gunicorn settings start.
GUNICORN_MARKER = '"""gunicorn settings for the Jaxl webhook'
#: The modules whose code the webhook carries verbatim, in order, and what each is.
SOURCES = {
    "core/store.py": "call state: the store protocol, and the in-memory store",
    "core/runtime.py": "the call runtime",
    "core/lookups.py": "lookups: asking a backend over HTTP",
    "webhook/revisions.py": "revisions: publishing a flow, each call on its own revision",
    "webhook/app.py": "HTTP: a request in, a reply out",
    "webhook/redis_store.py": "call state in Redis",
    "webhook/settings.py": "serving settings: defaults, environment, flags",
    "webhook/http_server.py": "serving: the standard-library server",
    "webhook/uvicorn_serving.py": "serving: uvicorn, as safely",
    "webhook/wsgi.py": "serving: WSGI (gunicorn)",
    "webhook/sdk.py": "serving: the Jaxl SDK",
    "webhook/server.py": "serving: the app from settings, the command line",
    "webhook/redis_async.py": "Redis on the event loop",
    "webhook/asgi.py": "ASGI",
    "webhook/rsgi.py": "RSGI (granian)",
    "webhook/loop_server.py": "serving: the asyncio server",
}
#: Top-level fields of a flow document the runtime does not read (the drawing, the parameters).
_NOT_RUN = ("layout", "environments")
_WIDTH = 100
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class ExportError(JaxlDesignerError, ValueError):
    """A flow that cannot be exported, or a folder it cannot be written to: one line saying why."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the folder, its files, those that changed, and the warnings."""

    out_dir: Path
    flow_json: Path
    webhook: Path
    changed: tuple[Path, ...] = ()
    warnings: list[Problem] = field(default_factory=list)
    gunicorn_conf: Path | None = None

    def __str__(self) -> str:
        state = "written" if self.changed else "up to date"
        return f"{self.out_dir}: {', '.join(FILES)} {state} ({len(self.warnings)} warnings)"


# -- the module text ------------------------------------------------------------------------


def _source(name: str) -> str:
    folder, file = name.split("/")
    source = resources.files("jaxl_designer").joinpath(folder).joinpath(file)
    return source.read_text(encoding="utf-8")


def _template(name: str = "webhook.py.tmpl") -> Template:
    templates = resources.files("jaxl_designer.exporter").joinpath("templates")
    return Template(templates.joinpath(name).read_text(encoding="utf-8"))


def generate_gunicorn_conf() -> str:
    """`gunicorn.conf.py`: gunicorn's settings for the webhook beside it, safe by default.

    gunicorn reads it from the folder it starts in: limits on the head, a connection cap, and a
    worker that reads each request before a thread takes it (deadlines for slow clients).
    """
    return _template("gunicorn.conf.py.tmpl").substitute(version=__version__)


def _split(source: str) -> tuple[list[ast.stmt], str]:
    """A module's top-level imports, and its code after them without `__all__`."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    imports: list[ast.stmt] = [s for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
    start = max(s.end_lineno or 0 for s in imports)
    skip: set[int] = set()
    for statement in tree.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            skip.update(range(statement.lineno, (statement.end_lineno or statement.lineno) + 1))
    kept = [line for number, line in enumerate(lines[start:], start + 1) if number not in skip]
    return imports, re.sub(r"\n{3,}", "\n\n\n", "".join(kept)).strip("\n")


def _name_order(name: str) -> tuple[int, str]:
    # isort's order by type, as ruff applies it: CONSTANTS, then Classes, then functions.
    if name.isupper() and len(name) > 1:
        return 0, name
    return (1 if name[:1].isupper() else 2), name.lower()


def _merge_imports(statements: Sequence[ast.stmt]) -> str:
    """One import block for the merged modules, sorted as ruff's isort rule wants it."""
    plain: set[str] = set()
    named: dict[str, set[str]] = {}
    for statement in statements:
        if isinstance(statement, ast.Import):
            plain.update(alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom) and not statement.level and statement.module:
            named.setdefault(statement.module, set()).update(a.name for a in statement.names)
    future = named.pop("__future__", set())
    lines = [f"from __future__ import {', '.join(sorted(future))}", ""] if future else []
    lines += [f"import {module}" for module in sorted(plain)]
    for module in sorted(named):
        names = sorted(named[module], key=_name_order)
        line = f"from {module} import {', '.join(names)}"
        if len(line) > _WIDTH:
            line = f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"
        lines.append(line)
    return "\n".join(lines)


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(text: str) -> str:
    """A string literal as ruff format writes it: double quotes unless single ones escape less.

    Example:
        >>> print(_string('Say "hi"'), _string("It's"))
        'Say "hi"' "It's"
    """
    quote = "'" if text.count('"') > text.count("'") else '"'
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char == quote:
            out.append("\\" + char)
        elif not char.isprintable():
            code = ord(char)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return quote + "".join(out) + quote


def _literal(value: Any) -> str:
    """One value as Python source on one line: strings as ruff quotes them, None/True/False."""
    if isinstance(value, str):
        return _string(value)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    raise TypeError(f"a flow document cannot hold {type(value).__name__}")


def _pretty(value: Any, indent: int, prefix: str, comments: Mapping[str, str] | None = None) -> str:
    """`prefix` and `value` as ruff format lays them out: one line if it fits, else one per line.

    A collection that is split keeps a trailing comma, so the formatter keeps it split;
    entries of `comments` put a comment line above the entry with that key.
    """
    pad = " " * indent
    flat = _literal(value)
    fits = indent + _width(prefix) + _width(flat) + 1 <= _WIDTH
    empty = not value if isinstance(value, (Mapping, list, tuple)) else True
    if empty or (fits and comments is None):
        return f"{pad}{prefix}{flat}"
    inner = " " * (indent + 4)
    lines = [f"{pad}{prefix}{'{' if isinstance(value, Mapping) else '['}"]
    if isinstance(value, Mapping):
        for key, item in value.items():
            if comments is not None and key in comments:
                lines.append(f"{inner}# {comments[key]}")
            lines.append(_pretty(item, indent + 4, f"{_literal(key)}: ") + ",")
    else:
        lines.extend(_pretty(item, indent + 4, "") + "," for item in value)
    lines.append(f"{pad}{'}' if isinstance(value, Mapping) else ']'}")
    return "\n".join(lines)


def _node_comment(node_id: str, spec: Mapping[str, Any]) -> str:
    return f"{json.dumps(node_id, ensure_ascii=True)[1:-1]}: {spec.get('kind')}"


def flow_literal(document: Mapping[str, Any]) -> str:
    """The flow document as a readable Python literal: each node one entry, named in a comment."""
    lines = ["{"]
    for key, value in document.items():
        if key == "nodes":
            comments = {node: _node_comment(node, spec) for node, spec in value.items()}
            lines.append(_pretty(value, 4, '"nodes": ', comments) + ",")
        else:
            lines.append(_pretty(value, 4, f"{_literal(key)}: ") + ",")
    lines.append("}")
    return "\n".join(lines)


def _docstring_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def generate_webhook(
    flow: Flow, *, env: str | Mapping[str, Any] | None = None, base: Path | None = None
) -> str:
    """The webhook module's text for `flow`: the same flow always gives the same text.

    `env` names the environment whose values fill the flow's `{{parameters}}`; `base` is the
    folder the flow's piece files are read from.

    Example:
        >>> from jaxl_designer.core.examples import acme
        >>> text = generate_webhook(acme())
        >>> "generated: edit the flow, not this file" in text, text == generate_webhook(acme())
        (True, True)
        >>> code = compile(text, "webhook.py", "exec")
    """
    try:
        runnable = prepare(flow, env, base)
    except (ResolveError, ValueError) as error:
        raise ExportError(f"flow {flow.name!r}: {error}") from None
    document = {k: v for k, v in runnable.to_document().items() if k not in _NOT_RUN}
    imports: list[ast.stmt] = []
    sections = []
    for name, what in SOURCES.items():
        found, body = _split(_source(name))
        imports += found
        title = f"# -- {what} (jaxl_designer/{name}) "
        sections.append(f"{title:-<93}".rstrip() + f"\n{body}")
    description = " ".join(flow.description.split())
    if description:
        description = "\n" + textwrap.fill(_docstring_text(description), 96) + "\n"
    text = _template().substitute(
        name=_docstring_text(json.dumps(flow.name, ensure_ascii=False)),
        version=__version__,
        description=description,
        imports=_merge_imports(imports),
        code="\n\n\n".join(sections),
        flow=flow_literal(document),
    )
    if any(_width(line) > _WIDTH for line in text.splitlines()):
        # Prompts are long sentences; splitting them would only make them harder to find.
        text = text.replace("\n\nfrom __future__", "\n\n# ruff: noqa: E501\n\nfrom __future__", 1)
    return text


def _width(line: str) -> int:
    """A line's width as ruff counts it: wide East Asian characters 2, combining marks 0."""
    total = 0
    for char in line:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


# -- writing --------------------------------------------------------------------------------
def _check_target(path: Path, force: bool) -> None:
    """Refuse a target that is a link or not a plain file, or that is not ours (unless forced)."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise ExportError(f"{path}: not a plain file (a link or a folder); refusing to write")
    if force or not path.exists():
        return
    try:
        head = path.read_text(encoding="utf-8")[:4096]
    except (OSError, UnicodeDecodeError):
        head = ""
    if path.name == "webhook.py":
        ours = head.startswith(MARKER)
    elif path.name == "gunicorn.conf.py":
        ours = head.startswith(GUNICORN_MARKER)
    else:
        ours = '"jaxl-designer/flow"' in head
    if not ours:
        raise ExportError(f"{path}: exists and was not written by jaxl-designer (use --force)")


def _write(path: Path, text: str) -> bool:
    """Write `text` atomically unless the file already holds it; True when it changed."""
    if path.is_file() and path.read_bytes() == text.encode("utf-8"):
        return False
    write_atomic(path, text)
    return True


def export(
    flow: Flow,
    out_dir: str | Path,
    *,
    force: bool = False,
    env: str | Mapping[str, Any] | None = None,
    base: Path | None = None,
) -> ExportResult:
    """Write `flow.json`, `webhook.py` and `gunicorn.conf.py` for `flow` into `out_dir`,
    atomically.

    A flow with validation errors is refused (`ExportError` lists them); warnings are returned.
    Only the two fixed file names are written, each through a temporary file in `out_dir`,
    and never through a symbolic link; a file there that jaxl-designer did not write is left
    alone unless `force` is true. Files whose bytes would not change are not touched.
    """
    problems = validate(flow, base)
    found = errors(problems)
    if found:
        listed = "; ".join(str(problem) for problem in found)
        raise ExportError(f"flow {flow.name!r} has {len(found)} error(s): {listed}", found)
    webhook = generate_webhook(flow, env=env, base=base)
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder}: not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / name for name in FILES]
    for target in targets:
        _check_target(target, force)
    texts = {targets[0]: dumps(flow), targets[1]: webhook, targets[2]: generate_gunicorn_conf()}
    changed = [path for path, text in texts.items() if _write(path, text)]
    warnings = [problem for problem in problems if problem.severity != "error"]
    return ExportResult(folder, targets[0], targets[1], tuple(changed), warnings, targets[2])


def export_examples(out_root: str | Path) -> list[ExportResult]:
    """Export every example flow into `out_root/<name>/`."""
    results = []
    for name, build in EXAMPLES.items():
        if not _NAME.fullmatch(name):
            raise ExportError(f"example name {name!r} cannot be a folder name")
        results.append(export(build(), Path(out_root) / name))
    return results
