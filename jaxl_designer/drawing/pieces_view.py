"""Pieces drawn inside their subflow card: each built and laid out once, then kept.

The canvas's view is rebuilt on every edit, and a piece is the same flow for the same name,
parameters and folder: building it and running `dot` on it is done once per piece and kept.

Example:
    >>> piece = laid_out("collect_and_confirm", {"var": "account"})
    >>> piece.flow.entry, sorted(piece.places)
    ('ask', ['ask', 'confirm', 'sorry'])
    >>> min(x for x, _ in piece.places.values()), min(y for _, y in piece.places.values())
    (0, 0)
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.flow import Flow
from ..core.pieces import build
from .backend import RenderError
from .layout import CARD, GAP, GAP_LR, layout

__all__ = ["LaidOut", "canonical", "laid_out"]

#: How many laid-out pieces are kept (one per piece, parameters, folder and direction).
KEPT = 128


@dataclass(frozen=True)
class LaidOut:
    """A piece's flow with each card's top-left, relative to the top-left of all its cards.

    Shared between views: read it, do not change it.
    """

    flow: Flow
    places: Mapping[str, tuple[int, int]]
    size: tuple[int, int]


def canonical(params: Mapping[str, Any] | None) -> str:
    """Parameters as one JSON text, the same for the same parameters in any order.

    Example:
        >>> canonical({"var": "a", "retries": 2}) == canonical({"retries": 2, "var": "a"})
        True
    """
    return json.dumps(params or {}, sort_keys=True, separators=(",", ":"), default=str)


def laid_out(
    piece: str,
    params: Mapping[str, Any] | None = None,
    folder: Path | None = None,
    direction: str = "TB",
) -> LaidOut:
    """The piece `piece` built with `params` (files read from `folder`) and laid out by `dot`.

    A piece file is built again when it changes on disk.

    Raises:
        PieceError: The piece cannot be built (unknown name, missing file, bad parameters).
    """
    stamp = _stamp(piece, folder)
    return _laid_out(piece, canonical(params), str(folder or ""), direction, stamp)


def _stamp(piece: str, folder: Path | None) -> tuple[int, int] | None:
    """A piece file's modification time and size, so that an edited file is read again."""
    if not piece.endswith(".json"):
        return None
    try:
        found = os.stat(Path(piece) if folder is None else folder / piece)
    except OSError:
        return None
    return (found.st_mtime_ns, found.st_size)


@functools.lru_cache(maxsize=KEPT)
def _laid_out(
    piece: str, params: str, folder: str, direction: str, stamp: tuple[int, int] | None
) -> LaidOut:
    flow = build(piece, json.loads(params), Path(folder) if folder else None)
    try:
        places = layout(flow, direction)
    except RenderError:
        places = _line(flow, direction)  # no `dot`: the cards in a line, still readable
    if not places:
        return LaidOut(flow, {}, (0, 0))
    left = min(x for x, _ in places.values())
    top = min(y for _, y in places.values())
    shifted = {node: (x - left, y - top) for node, (x, y) in places.items()}
    width = max(x for x, _ in shifted.values()) + CARD[0]
    height = max(y for _, y in shifted.values()) + CARD[1]
    return LaidOut(flow, shifted, (width, height))


def _line(flow: Flow, direction: str) -> dict[str, list[int]]:
    step = [0, CARD[1] + GAP[1]] if direction == "TB" else [CARD[0] + GAP_LR[1], 0]
    return {node: [i * step[0], i * step[1]] for i, node in enumerate(flow.nodes)}
