"""Running Graphviz's `dot`: DOT text in, SVG or PNG out, under a time limit, one-line errors."""

from __future__ import annotations

import subprocess

from ..core.errors import JaxlDesignerError

__all__ = ["RenderError", "run_dot"]

_NOT_FOUND = (
    "graphviz's dot program was not found: install graphviz "
    "(apt-get install graphviz / brew install graphviz)"
)


class RenderError(JaxlDesignerError, RuntimeError):
    """Drawing failed: `dot` is missing, failed or took too long. The message is one line."""


def run_dot(source: str, fmt: str, timeout: float, size: int) -> bytes:
    """Lay `source` out with `dot -T{fmt}`; `size` (nodes) only words the time-out error."""
    # graphviz.Digraph.pipe() has no timeout: a huge flow must never hang a notebook.
    try:
        done = subprocess.run(
            ["dot", f"-T{fmt}"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise RenderError(_NOT_FOUND) from None
    except subprocess.TimeoutExpired:
        raise RenderError(
            f"dot took longer than {timeout:g} s to draw {size} nodes: "
            "pass a larger timeout or draw part of the flow"
        ) from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"]
        raise RenderError(f"dot failed (exit status {done.returncode}): {said[0]}")
    return done.stdout
