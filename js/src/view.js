// The canvas's logic as pure functions: Python's view in, React Flow nodes and edges and messages out.
//
// Nothing here touches React or the DOM, so `npm test` checks it with node's own test runner.

/** Menu keys in the order a "+" handle offers them. */
export const MENU_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#"];

/** Node kinds, each with its accent colour (card stripe, kind badge, minimap). */
export const KIND_COLOURS = {
  menu: "#1e88e5",
  collect: "#8e24aa",
  say: "#00897b",
  set: "#fb8c00",
  hangup: "#546e7a",
  transfer: "#43a047",
  branch: "#a1887f",
  subflow: "#3949ab",
  lookup: "#d81b60",
};
export const MISSING_COLOUR = "#e53935";
const OTHER_COLOUR = "#9e9e9e";

/** Handle ids: one target handle per card, one source handle per exit, and the "+" handle. */
export const TARGET_HANDLE = "in";
export const DROP_HANDLE = "drop";
export const ADD_HANDLE = "add";
const EXIT_PREFIX = "out:";

export const DEFAULT_CARD = [240, 96];
export const DEFAULT_HEIGHT = 620;

/** The zoom at which a card's text is comfortably readable when the canvas centres on it. */
export const READABLE_ZOOM = 1;

/** The source handle id of an exit. */
export function exitHandle(key) {
  return EXIT_PREFIX + key;
}

/** The exit key a source handle id stands for, or null ("+", target handles, anything else). */
export function handleKey(handleId) {
  if (typeof handleId !== "string" || !handleId.startsWith(EXIT_PREFIX)) return null;
  return handleId.slice(EXIT_PREFIX.length);
}

/** The id of the edge that leaves `source` by `key` (unique: a node has one edge per key). */
export function edgeId(source, key) {
  return "edge:" + JSON.stringify([source, key]);
}

/** [source, key] back from an `edgeId`, or null for anything else. */
export function parseEdgeId(id) {
  if (typeof id !== "string" || !id.startsWith("edge:")) return null;
  try {
    const pair = JSON.parse(id.slice(5));
    return Array.isArray(pair) && pair.length === 2 ? pair : null;
  } catch {
    return null;
  }
}

/** A key as a CSS class part: "*" is "star", "#" is "hash", other unsafe characters "_". */
export function keyClass(key) {
  const text = String(key);
  if (text === "*") return "star";
  if (text === "#") return "hash";
  return text.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** The colour that stands for a kind, on cards and in the minimap. */
export function kindColour(kind) {
  return KIND_COLOURS[kind] || OTHER_COLOUR;
}

/** The card size [width, height] of a view. */
export function cardSize(view) {
  const card = view && Array.isArray(view.card) ? view.card : DEFAULT_CARD;
  return [Number(card[0]) || DEFAULT_CARD[0], Number(card[1]) || DEFAULT_CARD[1]];
}

/** "error" if any problem is an error, "warning" if any is a warning, else null. */
export function worstSeverity(problems) {
  if (!problems || problems.length === 0) return null;
  if (problems.some((p) => p.severity === "error")) return "error";
  return "warning";
}

/** The hover text of a problem badge: one line per problem, errors first. */
export function problemTitle(problems) {
  const sorted = [...(problems || [])].sort(
    (a, b) => (a.severity === "error" ? 0 : 1) - (b.severity === "error" ? 0 : 1),
  );
  return sorted.map((p) => `${p.severity}: ${p.message}`).join("\n");
}

/** The next key a menu's "+" handle connects: the first of 1-9, 0, *, # it has no exit for, or null. */
export function nextFreeKey(exits) {
  const taken = new Set((exits || []).map((e) => e.key));
  return MENU_KEYS.find((key) => !taken.has(key)) ?? null;
}

/** The room in px an LR card keeps clear on its right for its handles' keys (see canvas.css). */
export const LR_KEY_WIDTH = 40;

/** What a handle says beside it when `room` px is all it has (the whole key, else a short form). */
export function handleText(key, room) {
  const full = String(key).replace(/_/g, " ");
  if (full.length * 5.5 <= room) return full;
  const short = { invalid: "inv", gave_up: "gave", timeout: "time" }[key];
  return short || full.slice(0, Math.max(1, Math.floor(room / 5.5)));
}

/** True for an exit Python folds: it leads back to the start, drawn as a marker, not an edge. */
export function foldedExit(exit) {
  return Boolean(exit && exit.folded && exit.target != null);
}

/** The hover text of an exit's handle. */
export function handleTitle(exit, folded = true) {
  if (exit.target == null) return `${exit.label} (not connected)`;
  if (folded && foldedExit(exit)) return `${exit.label} → back to ${exit.target} (click to go there)`;
  return `${exit.label} → ${exit.target}`;
}

/** Below this many px between handles, a card draws them smaller (see `.jd-dense`). */
export const DENSE_SLOT = 14;

/** True when a card's source handles are too close together for full-size dots. */
export function denseHandles(node, card = DEFAULT_CARD, direction = "TB") {
  const count = (node.exits || []).length + (node.add_key && nextFreeKey(node.exits) ? 1 : 0);
  const side = direction === "LR" ? card[1] : card[0];
  return count > 0 && side / count < DENSE_SLOT;
}

/**
 * The source handles of a card, spread evenly along its bottom (TB) or right side (LR).
 *
 * Each is {id, key, text, title, offset (percent along the side), folded (the target an exit
 * leads back to, when it is drawn as a marker), add}; the "+" handle comes last. `folded` false
 * draws every exit as an edge.
 */
export function sourceHandles(node, card = DEFAULT_CARD, direction = "TB", folded = true) {
  const exits = node.exits || [];
  const addKey = node.add_key ? nextFreeKey(exits) : null;
  const count = exits.length + (addKey ? 1 : 0);
  const room = direction === "LR" ? LR_KEY_WIDTH : count ? card[0] / count : card[0];
  const handles = exits.map((exit, index) => ({
    id: exitHandle(exit.key),
    key: exit.key,
    text: handleText(exit.key, room),
    title: handleTitle(exit, folded),
    offset: ((index + 0.5) / count) * 100,
    connected: exit.target != null,
    fallback: Boolean(exit.fallback),
    // Drawn as a "back to the start" marker instead of an edge (see `foldedExit`).
    folded: folded && foldedExit(exit) ? exit.target : null,
    add: false,
  }));
  if (addKey) {
    handles.push({
      id: ADD_HANDLE,
      key: addKey,
      text: "+",
      title: `drag to connect key ${addKey}`,
      offset: ((count - 0.5) / count) * 100,
      connected: false,
      fallback: false,
      folded: null,
      add: true,
    });
  }
  return handles;
}

/** Handle dot sizes in px, as canvas.css draws them: an exit, a crowded exit, the "+". */
export const HANDLE_SIZE = { exit: 10, dense: 7, add: 15 };

/**
 * Where a card's handles are, relative to its top left, in React Flow's `node.handles` form.
 *
 * React Flow then draws edges without measuring the page first: cards far off screen keep their
 * edges, and a new view does not make every card measure itself again.
 */
export function flowHandles(sources, card = DEFAULT_CARD, direction = "TB", dense = false) {
  const [w, h] = card;
  const lr = direction === "LR";
  const t = HANDLE_SIZE.exit;
  const handles = [
    lr
      ? { id: TARGET_HANDLE, type: "target", position: "left", x: -t / 2, y: h / 2 - t / 2, width: t, height: t }
      : { id: TARGET_HANDLE, type: "target", position: "top", x: w / 2 - t / 2, y: -t / 2, width: t, height: t },
  ];
  for (const handle of sources) {
    const size = handle.add ? HANDLE_SIZE.add : dense ? HANDLE_SIZE.dense : HANDLE_SIZE.exit;
    const along = handle.offset / 100;
    handles.push(
      lr
        ? { id: handle.id, type: "source", position: "right", x: w - size / 2, y: h * along - size / 2, width: size, height: size }
        : { id: handle.id, type: "source", position: "bottom", x: w * along - size / 2, y: h - size / 2, width: size, height: size },
    );
  }
  return handles;
}

/**
 * The card a step of the call is drawn on: the step's own, or for a step inside a sub-flow
 * (`account/ask`, as the simulator names the piece's nodes) the subflow's card (`account`).
 */
export function cardOfStep(step) {
  const text = String(step ?? "");
  const cut = text.indexOf("/");
  return cut > 0 ? text.slice(0, cut) : text;
}

function pathOf(view) {
  const path = (view && view.path) || {};
  const steps = path.nodes || [];
  return {
    // A subflow's card counts as visited when the call went through its piece.
    nodes: new Set([...steps, ...steps.map(cardOfStep)]),
    edges: path.edges || [],
    current: path.current || null,
    currentCard: path.current ? cardOfStep(path.current) : null,
  };
}

/** The CSS classes of a card: its kind and its states (entry, visited, current, problems). */
export function nodeClasses(node, path) {
  const classes = ["jd-card", `jd-kind-${node.kind}`];
  if (node.entry) classes.push("jd-entry");
  if (path.nodes.has(node.id)) classes.push("jd-visited");
  if (path.current === node.id || path.currentCard === node.id) classes.push("jd-current");
  const worst = worstSeverity(node.problems);
  if (worst) classes.push(`jd-has-${worst}`);
  return classes.join(" ");
}

/**
 * React Flow nodes for a view: one fixed-size card per node, one dashed card per missing target.
 *
 * `selected` is the set of ids selected on the canvas, kept across new views; `folded` false draws
 * exits back to the start as edges rather than markers.
 */
export function toFlowNodes(view, { selected = new Set(), folded = true } = {}) {
  const card = cardSize(view);
  const direction = (view && view.direction) === "LR" ? "LR" : "TB";
  const path = pathOf(view);
  const traffic = trafficOf(view);
  const nodes = ((view && view.nodes) || []).map((node) => {
    const handles = sourceHandles(node, card, direction, folded);
    const dense = denseHandles(node, card, direction);
    return {
      id: node.id,
      type: "card",
      position: { x: node.position[0], y: node.position[1] },
      width: card[0],
      height: card[1],
      measured: { width: card[0], height: card[1] },
      handles: flowHandles(handles, card, direction, dense),
      selected: selected.has(node.id),
      className: nodeClasses(node, path),
      data: {
        id: node.id,
        kind: node.kind,
        entry: Boolean(node.entry),
        lines: (node.lines || []).slice(0, 2),
        prompt: node.prompt || "",
        problems: node.problems || [],
        severity: worstSeverity(node.problems),
        problemTitle: problemTitle(node.problems),
        handles,
        dense,
        direction,
        visited: path.nodes.has(node.id),
        current: path.current === node.id || path.currentCard === node.id,
        traffic: traffic ? trafficLine(traffic.nodes[node.id], traffic.calls) || "no calls" : null,
      },
    };
  });
  const missing = ((view && view.missing) || []).map((ghost) => ({
    id: ghost.id,
    type: "missing",
    position: { x: ghost.position[0], y: ghost.position[1] },
    width: card[0],
    height: card[1],
    measured: { width: card[0], height: card[1] },
    handles: flowHandles([], card, direction),
    selected: selected.has(ghost.id),
    className: "jd-card jd-missing",
    data: { id: ghost.id, kind: "missing", direction, handles: [] },
  }));
  return [...nodes, ...missing];
}

/** The real calls a view carries (`view.traffic`, from request logs), or null. */
export function trafficOf(view) {
  return (view && view.traffic) || null;
}

/** An edge's stroke width for `calls` real calls when the busiest edge has `most`: 1.5 to 9 px. */
export function trafficWidth(calls, most) {
  if (!calls || !most) return 1.5;
  return Math.round((1.5 + 7.5 * Math.sqrt(calls / most)) * 10) / 10;
}

/** A card's traffic line: "240 calls (23%) · 18 hung up", or null when none reached it. */
export function trafficLine(counts, total) {
  if (!counts || !counts.calls) return null;
  const share = total ? ` (${Math.round((100 * counts.calls) / total)}%)` : "";
  const parts = [`${counts.calls.toLocaleString("en")} calls${share}`];
  if (counts.hung_up) parts.push(`${counts.hung_up.toLocaleString("en")} hung up`);
  if (counts.gave_up) parts.push(`${counts.gave_up.toLocaleString("en")} gave up`);
  return parts.join(" · ");
}

/** The box [x, y, width, height] around every card of a view, or null when it has none. */
export function viewBounds(view) {
  const card = cardSize(view);
  const all = [...((view && view.nodes) || []), ...((view && view.missing) || [])];
  if (!all.length) return null;
  const xs = all.map((n) => n.position[0]);
  const ys = all.map((n) => n.position[1]);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return [x, y, Math.max(...xs) + card[0] - x, Math.max(...ys) + card[1] - y];
}

/** The zoom at which a box fits a pane of `width` × `height` px with `padding` around it. */
export function fitZoom(box, width, height, padding = 0.12) {
  const zoomX = width / (box[2] * (1 + 2 * padding));
  const zoomY = height / (box[3] * (1 + 2 * padding));
  return Math.min(zoomX, zoomY);
}

/** The farthest the canvas zooms out (React Flow's `minZoom`): a card is then a few pixels. */
export const MIN_ZOOM = 0.02;

/** Opening the canvas fits the whole flow down to this zoom, where its shape still shows. */
export const OPENING_MIN_ZOOM = MIN_ZOOM;

/**
 * What the canvas shows when it opens: null to fit the whole flow; when even the farthest zoom
 * cannot show it all, the ids of the entry and the cards it leads to; when even those are spread
 * too far, the entry alone.
 */
export function openingFocus(view, width, height, padding = 0.12) {
  const box = viewBounds(view);
  if (!box || fitZoom(box, width, height, padding) >= OPENING_MIN_ZOOM) return null;
  const nodes = (view && view.nodes) || [];
  const entryId = (view.flow && view.flow.entry) || (nodes.find((n) => n.entry) || {}).id;
  const entry = nodes.find((n) => n.id === entryId) || nodes[0];
  if (!entry) return null;
  const ids = [entry.id];
  for (const exit of entry.exits || []) {
    if (exit.target && !ids.includes(exit.target)) ids.push(exit.target);
  }
  const near = { ...view, nodes: nodes.filter((n) => ids.includes(n.id)), missing: [] };
  return fitZoom(viewBounds(near), width, height, padding) >= OPENING_MIN_ZOOM ? ids : [entry.id];
}

/** The CSS classes of an edge: fallback (dashed), on the call's path, the path's last step. */
export function edgeClasses({ fallback, onPath, last }) {
  const classes = ["jd-edge"];
  if (fallback) classes.push("jd-fallback");
  if (onPath) classes.push("jd-on-path");
  if (last) classes.push("jd-path-last");
  return classes.join(" ");
}

/**
 * React Flow edges for a view: one per connected exit, from its handle to the target's top.
 *
 * `markers` maps "plain", "fallback" and "path" to marker ids (arrow heads defined by the page);
 * `labels` maps edge ids to where along the edge the label sits (`placeLabels`); `folded` false
 * draws exits back to the start too (else they are markers on their cards).
 */
export function toFlowEdges(
  view,
  { selected = new Set(), markers = null, labels = null, folded = true } = {},
) {
  const card = cardSize(view);
  const direction = (view && view.direction) === "LR" ? "LR" : "TB";
  const places = new Map(
    [...((view && view.nodes) || []), ...((view && view.missing) || [])].map((item) => [item.id, item]),
  );
  const present = new Set(places.keys());
  const path = pathOf(view);
  const stepIndex = new Map();
  path.edges.forEach(([source, key, target], index) => {
    stepIndex.set(JSON.stringify([source, key, target]), index);
    // An edge into or out of a sub-flow names the piece's step: drawn, it is the subflow's card.
    const drawn = JSON.stringify([cardOfStep(source), key, cardOfStep(target)]);
    if (!stepIndex.has(drawn)) stepIndex.set(drawn, index);
  });
  const traffic = trafficOf(view);
  const calls = new Map(
    ((traffic && traffic.edges) || []).map(([source, key, target, count]) => [
      JSON.stringify([source, key, target]),
      count,
    ]),
  );
  const edges = [];
  for (const node of (view && view.nodes) || []) {
    for (const exit of node.exits || []) {
      if (exit.target == null || !present.has(exit.target)) continue;
      if (folded && foldedExit(exit)) continue;
      const id = edgeId(node.id, exit.key);
      const step = stepIndex.get(JSON.stringify([node.id, exit.key, exit.target]));
      const onPath = step !== undefined;
      const last = onPath && step === path.edges.length - 1;
      const edge = {
        id,
        type: "exit",
        source: node.id,
        sourceHandle: exitHandle(exit.key),
        target: exit.target,
        targetHandle: TARGET_HANDLE,
        label: exit.label,
        selected: selected.has(id),
        className: edgeClasses({ fallback: exit.fallback, onPath, last }),
        data: {
          source: node.id,
          key: exit.key,
          fallback: Boolean(exit.fallback),
          onPath,
          last,
          lane: backLane(node, places.get(exit.target), card, direction),
          labelAt: (labels && labels.get(id)) ?? 0.5,
        },
      };
      if (markers) {
        edge.markerEnd = onPath ? markers.path : exit.fallback ? markers.fallback : markers.plain;
      }
      if (traffic) {
        const count = calls.get(JSON.stringify([node.id, exit.key, exit.target])) || 0;
        edge.label = `${exit.label} · ${count.toLocaleString("en")}`;
        edge.style = { strokeWidth: trafficWidth(count, traffic.most) };
        edge.className += count ? " jd-traffic" : " jd-traffic jd-unused";
        edge.data.calls = count;
      }
      edges.push(edge);
    }
  }
  // Later edges are drawn over earlier ones: the call's path on top.
  return [...edges.filter((e) => !e.data.onPath), ...edges.filter((e) => e.data.onPath)];
}

/** How far a handle's connecting point lies outside the card (half a handle). */
const HANDLE_REACH = 5;

/** Where an edge leaves `node` by the handle at `offset` percent, and where it enters `target`. */
export function edgeEnds(node, target, offset, card = DEFAULT_CARD, direction = "TB") {
  const [w, h] = card;
  const [sx, sy] = node.position;
  const [tx, ty] = target.position;
  if (direction === "LR") {
    return {
      sourceX: sx + w + HANDLE_REACH,
      sourceY: sy + (h * offset) / 100,
      sourcePosition: "right",
      targetX: tx - HANDLE_REACH,
      targetY: ty + h / 2,
      targetPosition: "left",
    };
  }
  return {
    sourceX: sx + (w * offset) / 100,
    sourceY: sy + h + HANDLE_REACH,
    sourcePosition: "bottom",
    targetX: tx + w / 2,
    targetY: ty - HANDLE_REACH,
    targetPosition: "top",
  };
}

/** How far an edge that runs back stands off the cards it passes, in px. */
const LANE_GAP = 18;
export { LANE_GAP };

/**
 * The lane beside its own card that an edge running back takes, or null for one running on.
 *
 * An exit back into its own card ("9 · hear this again") or to a card wholly before it (up the
 * page, TB; to the left, LR) would be drawn through its own card: it goes out of its handle,
 * along this lane (an x, TB; a y, LR) on the side its target lies, and into the target's top
 * (left, LR) from before it.
 */
export function backLane(node, target, card = DEFAULT_CARD, direction = "TB") {
  const [w, h] = card;
  const [nx, ny] = node.position;
  const [tx, ty] = target.position;
  if (direction === "LR") {
    if (node !== target && node.id !== target.id && tx + w > nx) return null;
    return ty > ny || node.id === target.id ? ny + h + LANE_GAP : ny - LANE_GAP;
  }
  if (node !== target && node.id !== target.id && ty + h > ny) return null;
  return tx >= nx || node.id === target.id ? nx + w + LANE_GAP : nx - LANE_GAP;
}

/** The path of an edge running back along `lane` (see `backLane`), from React Flow's `ends`. */
export function aroundPath(ends, lane, direction = "TB") {
  const r = (v) => Math.round(v);
  const { sourceX: sx, sourceY: sy, targetX: tx, targetY: ty } = ends;
  const g = LANE_GAP;
  const points =
    direction === "LR"
      ? [[sx, sy], [sx + g, sy], [sx + g, lane], [tx - g, lane], [tx - g, ty], [tx, ty]]
      : [[sx, sy], [sx, sy + g], [lane, sy + g], [lane, ty - g], [tx, ty - g], [tx, ty]];
  return points.map(([x, y], i) => `${i ? "L" : "M"}${r(x)} ${r(y)}`).join("");
}

/** The corner points of an SVG path made of M, L and Q commands (curves cut to their chords). */
export function pathPoints(d) {
  const numbers = String(d).match(/-?\d*\.?\d+(?:e-?\d+)?/gi) || [];
  const commands = String(d).match(/[MLQ]/gi) || [];
  const values = numbers.map(Number);
  const points = [];
  let at = 0;
  for (const command of commands) {
    const take = command.toUpperCase() === "Q" ? 4 : 2;
    const chunk = values.slice(at, at + take);
    at += take;
    if (chunk.length < take) break;
    points.push({ x: chunk[take - 2], y: chunk[take - 1] });
  }
  return points;
}

/** The point `t` (0 to 1) of the way along a polyline, by length. */
export function pointAlong(points, t) {
  if (!points.length) return { x: 0, y: 0 };
  const lengths = points.slice(1).map((p, i) => Math.hypot(p.x - points[i].x, p.y - points[i].y));
  const total = lengths.reduce((a, b) => a + b, 0);
  let left = Math.min(Math.max(t, 0), 1) * total;
  for (let i = 0; i < lengths.length; i += 1) {
    if (left <= lengths[i] || i === lengths.length - 1) {
      const f = lengths[i] ? Math.min(left / lengths[i], 1) : 0;
      return {
        x: points[i].x + (points[i + 1].x - points[i].x) * f,
        y: points[i].y + (points[i + 1].y - points[i].y) * f,
      };
    }
    left -= lengths[i];
  }
  return points[0];
}

/** The size [width, height] an edge label takes on screen at zoom 1 (11 px text, padded). */
export function labelSize(text) {
  return [String(text).length * 6.3 + 12, 18];
}

/** Where along its edge each label may sit, tried in this order. */
const LABEL_SPOTS = [0.5];
for (let step = 1; step <= 9; step += 1) LABEL_SPOTS.push(0.5 - step * 0.05, 0.5 + step * 0.05);

function overlap(a, b) {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Boxes in a coarse grid, so each placement looks only at its neighbours. */
class BoxGrid {
  constructor(cell = 160) {
    this.cell = cell;
    this.cells = new Map();
  }
  keys(box) {
    const keys = [];
    const c = this.cell;
    for (let gx = Math.floor(box.x / c); gx <= Math.floor((box.x + box.w) / c); gx += 1) {
      for (let gy = Math.floor(box.y / c); gy <= Math.floor((box.y + box.h) / c); gy += 1) {
        keys.push(`${gx},${gy}`);
      }
    }
    return keys;
  }
  add(box) {
    for (const key of this.keys(box)) {
      if (!this.cells.has(key)) this.cells.set(key, []);
      this.cells.get(key).push(box);
    }
  }
  cover(box) {
    const seen = new Set();
    let total = 0;
    for (const key of this.keys(box)) {
      for (const other of this.cells.get(key) || []) {
        if (seen.has(other)) continue;
        seen.add(other);
        total += overlap(box, other) * (other.weight || 1);
      }
    }
    return total;
  }
}

/**
 * Where each edge's label sits, as the fraction of the way along the edge: labels keep off cards
 * and off each other where they can. Labels on the call's path are placed first, fallbacks last.
 *
 * `route` draws an edge the way the canvas does: React Flow's `getSmoothStepPath`, which returns
 * [svgPath, ...]. Returns a Map from edge id to fraction.
 */
export function placeLabels(view, route, { folded = true } = {}) {
  const card = cardSize(view);
  const direction = (view && view.direction) === "LR" ? "LR" : "TB";
  const grid = new BoxGrid();
  const places = new Map();
  for (const item of [...((view && view.nodes) || []), ...((view && view.missing) || [])]) {
    places.set(item.id, item);
    // Cards, with a margin for handles, keys and arrow heads. Labels are drawn over cards, so a
    // label on a card hides some of it, but one label on another hides both: that costs more.
    const [x, y] = item.position;
    grid.add({ x: x - 8, y: y - 8, w: card[0] + 16, h: card[1] + 16, weight: 1 });
    // The entry's "start" tag, above its top left corner.
    if (item.entry) grid.add({ x: x + 4, y: y - 24, w: 76, h: 24, weight: 1 });
  }
  const edges = toFlowEdges(view, { folded });
  const rank = (e) => (e.data.onPath ? 0 : e.data.fallback ? 2 : 1);
  const order = edges.map((e, i) => [rank(e), i, e]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const chosen = new Map();
  for (const [, , edge] of order) {
    const node = places.get(edge.source);
    const target = places.get(edge.target);
    const handle = sourceHandles(node, card, direction, folded).find((h) => h.id === edge.sourceHandle);
    const ends = edgeEnds(node, target, handle ? handle.offset : 50, card, direction);
    const points = pathPoints(
      edge.data.lane != null ? aroundPath(ends, edge.data.lane, direction) : route({ ...ends, borderRadius: 8 })[0],
    );
    const [w, h] = labelSize(edge.label);
    let best = null;
    for (const t of LABEL_SPOTS) {
      const p = pointAlong(points, t);
      const box = { x: p.x - w / 2, y: p.y - h / 2, w, h };
      const cover = grid.cover(box);
      if (!best || cover < best.cover) best = { t, box, cover };
      if (cover === 0) break;
    }
    grid.add({ ...best.box, weight: 2 });
    chosen.set(edge.id, best.t);
  }
  return chosen;
}

/** The label edges carry between `source`'s exit `key` and its target, or null. */
export function exitLabel(view, source, key) {
  const node = ((view && view.nodes) || []).find((n) => n.id === source);
  const exit = node && (node.exits || []).find((e) => e.key === key);
  return exit ? exit.label : null;
}

/**
 * Nodes whose id or prompt contains `query` (case-insensitive), best first.
 *
 * Order: id starts with the query, then id contains it, then prompt or preview contains it; view
 * order within each group. Each match is {id, kind, where ("id" or "prompt"), text}.
 */
export function searchNodes(view, query, limit = 8) {
  const q = String(query || "").trim().toLowerCase();
  if (!q) return [];
  const groups = [[], [], []];
  for (const node of (view && view.nodes) || []) {
    const id = String(node.id).toLowerCase();
    const prompt = [node.prompt || "", ...(node.lines || [])].join(" ");
    const flat = prompt.replace(/\s+/g, " ");
    if (id.startsWith(q)) groups[0].push({ id: node.id, kind: node.kind, where: "id", text: node.lines?.[0] || "" });
    else if (id.includes(q)) groups[1].push({ id: node.id, kind: node.kind, where: "id", text: node.lines?.[0] || "" });
    else {
      const at = flat.toLowerCase().indexOf(q);
      if (at >= 0) {
        const start = Math.max(0, at - 16);
        const snippet = (start > 0 ? "…" : "") + flat.slice(start, at + q.length + 24);
        groups[2].push({ id: node.id, kind: node.kind, where: "prompt", text: snippet });
      }
    }
  }
  return groups.flat().slice(0, limit);
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** The problem counts of a view: its `counts`, or counted from nodes and flow problems. */
export function countProblems(view) {
  if (view && view.counts && typeof view.counts === "object") {
    return { error: view.counts.error || 0, warning: view.counts.warning || 0 };
  }
  const counts = { error: 0, warning: 0 };
  const all = [
    ...((view && view.nodes) || []).flatMap((n) => n.problems || []),
    ...((view && view.flow_problems) || []),
  ];
  for (const problem of all) {
    if (problem.severity === "error") counts.error += 1;
    else counts.warning += 1;
  }
  return counts;
}

/** What the toolbar says about problems: {text, level ("error", "warning", "ok")}. */
export function problemSummary(counts) {
  const parts = [];
  if (counts.error) parts.push(plural(counts.error, "error"));
  if (counts.warning) parts.push(plural(counts.warning, "warning"));
  if (!parts.length) return { text: "No problems", level: "ok" };
  return { text: parts.join(" · "), level: counts.error ? "error" : "warning" };
}

/** The hover text of the problem summary: the flow's own problems, then how to cycle. */
export function summaryTitle(view) {
  const lines = ((view && view.flow_problems) || []).map((p) => `${p.severity}: ${p.message}`);
  if (problemNodes(view).length) lines.push("Click to go to each card with problems.");
  return lines.join("\n");
}

/** Ids of nodes with problems: those with errors first, then those with only warnings. */
export function problemNodes(view) {
  const nodes = (view && view.nodes) || [];
  const withErrors = nodes.filter((n) => worstSeverity(n.problems) === "error");
  const withWarnings = nodes.filter((n) => worstSeverity(n.problems) === "warning");
  return [...withErrors, ...withWarnings].map((n) => n.id);
}

/** The item after `current` in `list`, wrapping round; the first if `current` is not in it. */
export function nextInCycle(list, current) {
  if (!list.length) return null;
  const at = list.indexOf(current);
  return list[(at + 1) % list.length];
}

/** The point the canvas centres on to show a card: its middle, in flow coordinates. */
export function cardCentre(position, card = DEFAULT_CARD) {
  return { x: position.x + card[0] / 2, y: position.y + card[1] / 2 };
}

/** The message that connects `source`'s exit (or its "+" handle) to `target`, or null. */
export function connectMessage(view, { source, sourceHandle, target }) {
  if (!source || !target) return null;
  const node = ((view && view.nodes) || []).find((n) => n.id === source);
  if (!node) return null;
  let key = handleKey(sourceHandle);
  if (sourceHandle === ADD_HANDLE) key = node.add_key ? nextFreeKey(node.exits) : null;
  if (key == null) return null;
  return { type: "connect", source, key, target };
}

/**
 * The message that deletes what is selected: nodes by id, edges as [source, key].
 *
 * A missing target is not a node: selecting it deletes the edges that lead to it (found among
 * `allEdges`). Null when nothing deletable is selected.
 */
export function deleteMessage({ nodes = [], edges = [], allEdges = [] }) {
  const ids = [];
  const pairs = [];
  const seen = new Set();
  const addEdge = (source, key) => {
    const id = edgeId(source, key);
    if (seen.has(id)) return;
    seen.add(id);
    pairs.push([source, key]);
  };
  const missing = new Set();
  for (const node of nodes) {
    if (node.type === "missing") missing.add(node.id);
    else ids.push(node.id);
  }
  for (const edge of edges) {
    const pair = edge.data ? [edge.data.source, edge.data.key] : parseEdgeId(edge.id);
    if (pair) addEdge(pair[0], pair[1]);
  }
  if (missing.size) {
    for (const edge of allEdges) {
      if (missing.has(edge.target) && edge.data) addEdge(edge.data.source, edge.data.key);
    }
  }
  if (!ids.length && !pairs.length) return null;
  return { type: "delete", nodes: ids, edges: pairs };
}

/**
 * The message that records where dragged cards now are, rounded to whole pixels, or null.
 *
 * `before` maps ids to the [x, y] the view had; cards that did not move are left out, and so are
 * missing targets (Python places those itself).
 */
export function moveMessage(dragged, before = {}) {
  const positions = {};
  for (const node of dragged) {
    if (node.type === "missing") continue;
    const point = [Math.round(node.position.x), Math.round(node.position.y)];
    const was = before[node.id];
    if (was && was[0] === point[0] && was[1] === point[1]) continue;
    positions[node.id] = point;
  }
  return Object.keys(positions).length ? { type: "move", positions } : null;
}

/** Each node's [x, y] in a view, by id (what `moveMessage` compares against). */
export function viewPositions(view) {
  const places = {};
  for (const node of (view && view.nodes) || []) places[node.id] = node.position;
  return places;
}

/**
 * What a key press on the canvas asks for: "undo", "redo", "delete", "open" (Enter: edit the
 * selected card in the inspector), or null.
 *
 * `press` is {key, ctrlKey, metaKey, shiftKey, inText}; `inText` is true when focus is in a text
 * field, where keys belong to the field.
 */
export function shortcut(press) {
  if (press.inText) return null;
  const mod = press.ctrlKey || press.metaKey;
  const key = String(press.key || "").toLowerCase();
  if (mod && key === "z") return press.shiftKey ? "redo" : "undo";
  if (mod && key === "y") return "redo";
  if (mod || press.altKey) return null;
  if (key === "delete" || key === "backspace") return "delete";
  if (key === "enter") return "open";
  return null;
}

/** The tooltip of the Undo or Redo button. */
export function historyTitle(verb, what) {
  if (what === null) return `Nothing to ${verb.toLowerCase()}`;
  return what ? `${verb}: ${what}` : verb;
}

/** The text shown instead of a canvas when the flow has no nodes. */
export const EMPTY_HINT =
  "This flow has no nodes yet. Add one from Python (flow.menu(...)) or the palette.";

/** True when a view has nothing to draw. */
export function isEmpty(view) {
  return !((view && view.nodes) || []).length && !((view && view.missing) || []).length;
}

/** The exit [source, key] a connection drag from handle `handleId` of `source` starts at, or null. */
export function exitOf(view, source, handleId) {
  const content = connectMessage(view, { source, sourceHandle: handleId, target: "?" });
  return content ? [content.source, content.key] : null;
}

/** The drop menu's size in px as canvas.css draws it: its width, its title and each row. */
export const KIND_MENU = { width: 170, title: 30, row: 28 };

/**
 * Where the drop menu's top left goes: at the drop point `menu` {x, y, width, height} (px in
 * the canvas), moved in so that all of it stays inside the canvas.
 */
export function kindMenuPlace(menu, count) {
  const w = KIND_MENU.width;
  const h = KIND_MENU.title + count * KIND_MENU.row + 8;
  const margin = 6;
  const x = menu.x + w + margin > menu.width ? menu.x - w : menu.x;
  const y = menu.y + h + margin > menu.height ? menu.y - h : menu.y;
  return {
    x: Math.max(margin, Math.min(x, menu.width - w - margin)),
    y: Math.max(margin, Math.min(y, menu.height - h - margin)),
  };
}

/**
 * `next` with every item that is the same as in `previous` (same id, same content) replaced by the
 * previous object, and `previous` itself when nothing changed.
 *
 * React Flow then redraws only the cards and edges a new view changed: an edit on a large flow
 * costs what it changes, not what the flow holds.
 */
export function keepUnchanged(previous, next) {
  const before = new Map(previous.map((item) => [item.id, item]));
  let same = previous.length === next.length;
  const kept = next.map((item, index) => {
    const old = before.get(item.id);
    if (old && signature(old) === signature(item)) {
      if (previous[index] !== old) same = false;
      return old;
    }
    same = false;
    return item;
  });
  return same ? previous : kept;
}

const signatures = new WeakMap();

function signature(item) {
  let text = signatures.get(item);
  if (text === undefined) {
    text = JSON.stringify(item);
    signatures.set(item, text);
  }
  return text;
}

/**
 * Below this zoom edge labels are too small to read, and the canvas draws the overview instead:
 * plain cards and every edge in one path (`overviewPaths`).
 */
export const LABEL_ZOOM = 0.4;

/**
 * Every edge of a view as right-angled steps, in three SVG paths (M and L commands): "plain",
 * "fallback" and "path" (the call's). What the canvas draws zoomed out, where a thousand edges
 * must pan as one picture rather than a thousand elements.
 */
export function overviewPaths(view, { folded = true } = {}) {
  const card = cardSize(view);
  const direction = (view && view.direction) === "LR" ? "LR" : "TB";
  const places = new Map();
  for (const item of [...((view && view.nodes) || []), ...((view && view.missing) || [])]) {
    places.set(item.id, item);
  }
  const parts = { plain: [], fallback: [], path: [] };
  for (const edge of toFlowEdges(view, { folded })) {
    const node = places.get(edge.source);
    const target = places.get(edge.target);
    const handle = sourceHandles(node, card, direction, folded).find((h) => h.id === edge.sourceHandle);
    const e = edgeEnds(node, target, handle ? handle.offset : 50, card, direction);
    const r = (v) => Math.round(v);
    let d;
    if (edge.data.lane != null) {
      d = aroundPath(e, edge.data.lane, direction);
    } else if (direction === "LR") {
      const mid = (e.sourceX + e.targetX) / 2;
      d = `M${r(e.sourceX)} ${r(e.sourceY)}L${r(mid)} ${r(e.sourceY)}L${r(mid)} ${r(e.targetY)}L${r(e.targetX)} ${r(e.targetY)}`;
    } else {
      const mid = (e.sourceY + e.targetY) / 2;
      d = `M${r(e.sourceX)} ${r(e.sourceY)}L${r(e.sourceX)} ${r(mid)}L${r(e.targetX)} ${r(mid)}L${r(e.targetX)} ${r(e.targetY)}`;
    }
    parts[edge.data.onPath ? "path" : edge.data.fallback ? "fallback" : "plain"].push(d);
  }
  return { plain: parts.plain.join(""), fallback: parts.fallback.join(""), path: parts.path.join("") };
}
