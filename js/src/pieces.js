// Sub-flows opened on the canvas: a subflow card becomes a group that shows its piece's cards.
//
// Python sends each subflow card's piece (`node.piece`: its cards, laid out, and their exits);
// which groups are open lives in the browser. Pure functions, checked by `npm test`.
import {
  DEFAULT_CARD,
  LANE_GAP,
  cardSize,
  denseHandles,
  flowHandles,
  nodeClasses,
  placeLabels,
  sourceHandles,
  toFlowEdges,
} from "./view.js";

/** Room around the piece's cards inside an open group, in px (see piece.css). */
export const GROUP = {
  /** The group's own head (id, kind, the toggle, the piece's name) above the piece's cards. */
  head: 84,
  /** Left and right of the cards: room for the lanes of edges that run back. */
  side: 40,
  /** Under the cards (TB): room for edges to turn towards the exits, their arrows and keys. */
  foot: 76,
  /** Right of the cards (LR): the same, beside the exits. */
  after: 96,
};

/** Where the piece's edges to an exit end: this far inside the group from the exit's handle. */
export const EXIT_REACH = 44;

/** An open group is drawn over the cards it covers (React Flow's `zIndex`), its cards above it. */
export const GROUP_Z = 10;

const EXIT_IN_PREFIX = "exit:";

/** The id of the target handle inside a group where the piece's edges to exit `key` end. */
export function exitInHandle(key) {
  return EXIT_IN_PREFIX + key;
}

/** The React Flow id of step `step` of the piece in group `group`: what the call's path names. */
export function childId(group, step) {
  return `${group}/${step}`;
}

/** The id of a piece's edge inside group `group`: never read as one of the flow's own edges. */
export function pieceEdgeId(group, step, key) {
  return "piece:" + JSON.stringify([group, step, key]);
}

/** What the toggle on a subflow card says: "▸ 3 steps" closed, "▾ 3 steps" open. */
export function toggleText(steps, open) {
  return `${open ? "▾" : "▸"} ${steps} step${steps === 1 ? "" : "s"}`;
}

/** The size [width, height] of an open group holding `piece`, never smaller than a card. */
export function groupSize(piece, card = DEFAULT_CARD, direction = "TB") {
  const [w, h] = (piece && piece.size) || [0, 0];
  const lr = direction === "LR";
  const width = GROUP.side + w + (lr ? GROUP.after : GROUP.side);
  const height = GROUP.head + h + (lr ? GROUP.side : GROUP.foot);
  return [Math.max(width, card[0]), Math.max(height, card[1])];
}

/** Where a piece card at `position` (relative to the piece's top-left) sits in its group. */
export function childPosition(position) {
  return { x: GROUP.side + position[0], y: GROUP.head + position[1] };
}

/**
 * The target handles inside a group where the piece's edges to its exits end, one above
 * (TB; left of, LR) each exit's own handle, in `node.handles` form.
 */
export function exitInHandles(sources, size, direction = "TB") {
  const [w, h] = size;
  const t = 10;
  return sources
    .filter((handle) => !handle.add)
    .map((handle) => {
      const along = handle.offset / 100;
      return direction === "LR"
        ? { id: exitInHandle(handle.key), type: "target", position: "left", x: w - EXIT_REACH - t / 2, y: h * along - t / 2, width: t, height: t, offset: handle.offset }
        : { id: exitInHandle(handle.key), type: "target", position: "top", x: w * along - t / 2, y: h - EXIT_REACH - t / 2, width: t, height: t, offset: handle.offset };
    });
}

/**
 * The exit handles of an open group (`sourceHandles` for its size): along its bottom (TB), or
 * along its right side below its head (LR), where the piece's cards are.
 */
export function groupSources(node, size, direction = "TB", folded = true) {
  const handles = sourceHandles(node, size, direction, folded);
  if (direction !== "LR") return handles;
  const head = Math.min(GROUP.head, size[1] / 2);
  return handles.map((h) => ({ ...h, offset: ((head + ((size[1] - head) * h.offset) / 100) / size[1]) * 100 }));
}

/** Summary of a subflow card's piece for its toggle: {steps, name, error}, or null. */
export function pieceSummary(node) {
  if (!node || node.kind !== "subflow" || !("piece" in node)) return null;
  if (!node.piece) return { steps: 0, name: "", error: node.piece_error || "the piece cannot be built" };
  return { steps: node.piece.nodes.length, name: node.piece.name, error: null };
}

function isOpen(node, expanded) {
  return Boolean(node && node.kind === "subflow" && node.piece && expanded.has(node.id));
}

function pathOf(view) {
  const path = (view && view.path) || {};
  return { nodes: new Set(path.nodes || []), edges: path.edges || [], current: path.current || null };
}

/**
 * React Flow nodes with the open groups: `nodes` (from `toFlowNodes`) with each subflow card
 * told about its piece (`data.piece`, `data.open`), each open one as big as its piece and
 * followed by the piece's cards as its children (read-only: not draggable, selectable or
 * connectable).
 */
export function groupNodes(nodes, view, expanded = new Set(), { folded = true } = {}) {
  const card = cardSize(view);
  const direction = (view && view.direction) === "LR" ? "LR" : "TB";
  const byId = new Map(((view && view.nodes) || []).map((node) => [node.id, node]));
  const taken = new Set(nodes.map((node) => node.id));
  const path = pathOf(view);
  const out = [];
  for (const flowNode of nodes) {
    const node = byId.get(flowNode.id);
    const summary = flowNode.type === "card" ? pieceSummary(node) : null;
    if (!summary) {
      out.push(flowNode);
      continue;
    }
    const open = isOpen(node, expanded);
    if (!open) {
      out.push({ ...flowNode, data: { ...flowNode.data, piece: summary, open: false } });
      continue;
    }
    const size = groupSize(node.piece, card, direction);
    const sources = groupSources(node, size, direction, folded);
    const dense = denseHandles(node, size, direction);
    out.push({
      ...flowNode,
      width: size[0],
      height: size[1],
      measured: { width: size[0], height: size[1] },
      zIndex: GROUP_Z,
      handles: [...flowHandles(sources, size, direction, dense), ...exitInHandles(sources, size, direction)],
      className: `${flowNode.className} jd-group`,
      data: {
        ...flowNode.data,
        piece: summary,
        open: true,
        handles: sources,
        exitIns: exitInHandles(sources, size, direction).map((h) => ({ id: h.id, offset: h.offset })),
        dense,
      },
    });
    for (const step of node.piece.nodes) {
      let id = childId(node.id, step.id);
      if (taken.has(id)) id = `${id} (piece)`;
      taken.add(id);
      const inner = { ...step, id, exits: step.exits || [], add_key: false };
      const handles = sourceHandles(inner, card, direction, false);
      const innerDense = denseHandles(inner, card, direction);
      out.push({
        id,
        type: "piece",
        parentId: node.id,
        position: childPosition(step.position),
        width: card[0],
        height: card[1],
        measured: { width: card[0], height: card[1] },
        handles: flowHandles(handles, card, direction, innerDense),
        draggable: false,
        selectable: false,
        connectable: false,
        focusable: false,
        deletable: false,
        // A picture of the piece: pointer and drops go through to the group under it.
        style: { pointerEvents: "none" },
        className: `${nodeClasses({ ...inner, entry: false, problems: [] }, path)} jd-piece-card`,
        data: {
          id: step.id,
          kind: step.kind,
          entry: false,
          pieceEntry: step.id === node.piece.entry,
          lines: (step.lines || []).slice(0, 2),
          prompt: step.prompt || "",
          problems: [],
          severity: null,
          problemTitle: "",
          handles,
          dense: innerDense,
          direction,
          visited: path.nodes.has(id),
          current: path.current === id,
          inner: true,
        },
      });
    }
  }
  return out;
}

/** The box {id, x, y, w, h} each card takes, open groups at their size. */
function boxes(view, expanded) {
  const card = cardSize(view);
  const direction = (view && view.direction) === "LR" ? "LR" : "TB";
  const found = new Map();
  for (const item of [...((view && view.nodes) || []), ...((view && view.missing) || [])]) {
    const [w, h] = isOpen(item, expanded) ? groupSize(item.piece, card, direction) : card;
    found.set(item.id, { id: item.id, x: item.position[0], y: item.position[1], w, h });
  }
  return found;
}

/**
 * The lane of an edge from or to an open group (see view.js `backLane`): null when the target
 * lies wholly past the source's exits (below, TB; right of it, LR), else the x (TB) or y (LR)
 * it runs along, beside both boxes on the target's side. A group is tall: the cards beside or
 * under it (that it covers) are reached round it, not through it.
 */
export function boxLane(source, target, direction = "TB") {
  const same = source.id === target.id;
  const [along, across, length, breadth] = direction === "LR" ? ["x", "y", "w", "h"] : ["y", "x", "h", "w"];
  if (!same && target[along] >= source[along] + source[length]) return null;
  const after = same || target[across] + target[breadth] / 2 >= source[across] + source[breadth] / 2;
  return after
    ? Math.max(source[across] + source[breadth], target[across] + target[breadth]) + LANE_GAP
    : Math.min(source[across], target[across]) - LANE_GAP;
}

/** Whether an edge's label says more than the key its handle already shows ("1 · confirm"). */
export function tellingLabel(exit) {
  return Boolean(exit.label) && exit.label !== String(exit.key).replace(/_/g, " ");
}

/**
 * Lanes shared by several edges, spread apart by `step` px so each reads alone: outwards, away
 * from the middle of the edge's source (`middles` maps ids to it, across the calls' direction).
 */
export function spreadLanes(edges, middles, step = 8) {
  const seen = new Map();
  return edges.map((edge) => {
    const lane = edge.data.lane;
    if (lane == null) return edge;
    const count = seen.get(lane) || 0;
    seen.set(lane, count + 1);
    if (!count) return edge;
    const outwards = lane < (middles.get(edge.source) ?? lane) ? -1 : 1;
    return { ...edge, data: { ...edge.data, lane: lane + outwards * step * count } };
  });
}

/**
 * React Flow edges with the open groups: `edges` (from `toFlowEdges`) with the lanes of those
 * that run back from or into an open group set for its size, then each open group's own
 * edges: between its piece's cards, and from them to the group's exits.
 *
 * `route` is React Flow's `getSmoothStepPath` (for where labels go, as in `placeLabels`);
 * `markers` the arrow heads, as for `toFlowEdges`.
 */
export function groupEdges(edges, view, expanded = new Set(), { route = null, markers = null } = {}) {
  const open = ((view && view.nodes) || []).filter((node) => isOpen(node, expanded));
  if (!open.length) return edges;
  const direction = (view && view.direction) === "LR" ? "LR" : "TB";
  const ids = new Set(open.map((node) => node.id));
  const places = boxes(view, expanded);
  const touched = [];
  const out = edges.map((edge, index) => {
    if (!ids.has(edge.source) && !ids.has(edge.target)) return edge;
    const source = places.get(edge.source);
    const target = places.get(edge.target);
    if (!source || !target) return edge;
    touched.push(index);
    const lane = boxLane(source, target, direction);
    return lane === edge.data.lane ? edge : { ...edge, data: { ...edge.data, lane } };
  });
  // Edges round the same group may meet on one lane: spread them (the others keep theirs).
  const lr = direction === "LR";
  const middles = new Map([...places.values()].map((box) => [box.id, lr ? box.y + box.h / 2 : box.x + box.w / 2]));
  spreadLanes(touched.map((index) => out[index]), middles).forEach((edge, i) => {
    out[touched[i]] = edge;
  });
  for (const node of open) out.push(...innerEdges(node, view, { route, markers }));
  return out;
}

/** The edges of one open group's piece, in flow coordinates (its cards are its children). */
export function innerEdges(node, view, { route = null, markers = null } = {}) {
  const card = cardSize(view);
  const direction = (view && view.direction) === "LR" ? "LR" : "TB";
  const lr = direction === "LR";
  const path = (view && view.path) || {};
  const steps = node.piece.nodes;
  const named = new Set(steps.map((step) => step.id));
  const exits = new Map((node.exits || []).map((exit) => [exit.key, exit]));
  const size = groupSize(node.piece, card, direction);
  const sources = new Map(groupSources(node, size, direction).map((h) => [h.key, h]));
  const [gx, gy] = node.position;
  const origin = childPosition([gx, gy]);
  // Each exit as a card-sized stand-in whose way in is where the piece's edges to it end.
  const stand = (name) => childId(node.id, "@" + name);
  const standIns = [...exits.keys()].filter((name) => sources.has(name)).map((name) => {
    const along = sources.get(name).offset / 100;
    const position = lr
      ? [gx + size[0] - EXIT_REACH, gy + size[1] * along - card[1] / 2]
      : [gx + size[0] * along - card[0] / 2, gy + size[1] - EXIT_REACH];
    return { id: stand(name), position };
  });
  // The piece as a view of its own, placed where the group draws it: the canvas's own rules
  // then give its edges (lanes back, the call's path) and where their labels go.
  const inner = {
    card,
    direction,
    path,
    missing: standIns,
    nodes: steps.map((step) => ({
      id: childId(node.id, step.id),
      kind: step.kind,
      position: [origin.x + step.position[0], origin.y + step.position[1]],
      exits: (step.exits || [])
        .map((exit) => {
          const target = String(exit.target ?? "");
          if (named.has(target)) return { ...exit, target: childId(node.id, target) };
          if (target.startsWith("@") && sources.has(target.slice(1))) return { ...exit, target: stand(target.slice(1)) };
          return null;
        })
        .filter(Boolean)
        .map((exit) => ({ ...exit, label: tellingLabel(exit) ? exit.label : "", folded: false })),
    })),
  };
  const labels = route ? placeLabels(inner, route, { folded: false }) : null;
  const middles = new Map(inner.nodes.map((n) => [n.id, n.position[lr ? 1 : 0] + card[lr ? 1 : 0] / 2]));
  const stepEdges = new Set((path.edges || []).map((edge) => JSON.stringify(edge)));
  const edges = toFlowEdges(inner, { markers, labels, folded: false }).map((edge) => {
    const step = edge.data.source.slice(node.id.length + 1);
    const out = { ...edge, id: pieceEdgeId(node.id, step, edge.data.key) };
    const name = edge.target.startsWith(stand("")) ? edge.target.slice(stand("").length) : null;
    if (name === null) return readOnly(out);
    // An edge out of the piece ends above the group's exit; the call goes on to what that
    // exit leads to, so that is the step its path records.
    const onPath = stepEdges.has(JSON.stringify([edge.source, edge.data.key, exits.get(name).target]));
    const fallback = edge.data.fallback;
    const leaving = {
      ...out,
      target: node.id,
      targetHandle: exitInHandle(name),
      className: ["jd-edge", fallback ? "jd-fallback" : "", onPath ? "jd-on-path" : ""].filter(Boolean).join(" "),
      data: { ...out.data, onPath, last: false, lane: null },
    };
    if (markers) leaving.markerEnd = onPath ? markers.path : fallback ? markers.fallback : markers.plain;
    return readOnly(leaving);
  });
  return spreadLanes(edges, middles);
}

function readOnly(edge) {
  return {
    ...edge,
    selected: false,
    selectable: false,
    focusable: false,
    deletable: false,
    reconnectable: false,
    className: `${edge.className} jd-piece-edge`,
  };
}
