// What the canvas shows for a view, checked on the pure functions that decide it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { getSmoothStepPath } from "@xyflow/react";

import {
  ADD_HANDLE,
  aroundPath,
  backLane,
  DROP_HANDLE,
  TARGET_HANDLE,
  cardCentre,
  cardOfStep,
  cardSize,
  connectMessage,
  countProblems,
  deleteMessage,
  denseHandles,
  edgeEnds,
  edgeId,
  exitHandle,
  fitZoom,
  handleKey,
  historyTitle,
  isEmpty,
  keepUnchanged,
  kindColour,
  labelSize,
  moveMessage,
  nextFreeKey,
  nextInCycle,
  openingFocus,
  overviewPaths,
  parseEdgeId,
  pathPoints,
  placeLabels,
  pointAlong,
  problemNodes,
  problemSummary,
  problemTitle,
  searchNodes,
  shortcut,
  sourceHandles,
  trafficLine,
  trafficWidth,
  summaryTitle,
  toFlowEdges,
  toFlowNodes,
  viewBounds,
  viewPositions,
} from "../src/view.js";

const acme = () => JSON.parse(readFileSync(new URL("./fixtures/acme.json", import.meta.url)));
const byId = (items, id) => items.find((item) => item.id === id);
const edgeFrom = (edges, source, key) => edges.find((e) => e.source === source && e.data.key === key);
const classes = (item) => item.className.split(" ");

test("the edge from main's key 1 reads '1 · sales' and runs from key 1's handle to sales' top", () => {
  const edge = edgeFrom(toFlowEdges(acme()), "main", "1");
  assert.equal(edge.label, "1 · sales");
  assert.equal(edge.target, "sales");
  assert.equal(edge.sourceHandle, exitHandle("1"));
  assert.equal(edge.targetHandle, TARGET_HANDLE);
  assert.equal(edge.id, edgeId("main", "1"));
});

test("a fallback exit is dashed, a keyed one is not", () => {
  const edges = toFlowEdges(acme());
  assert.ok(classes(edgeFrom(edges, "main", "invalid")).includes("jd-fallback"));
  assert.ok(!classes(edgeFrom(edges, "main", "1")).includes("jd-fallback"));
});

test("an exit without a target draws no edge but keeps its handle to drag from", () => {
  const view = acme();
  assert.equal(edgeFrom(toFlowEdges(view), "main", "gave_up"), undefined);
  const main = byId(toFlowNodes(view), "main");
  const handle = main.data.handles.find((h) => h.key === "gave_up");
  assert.equal(handle.connected, false);
  assert.match(handle.title, /not connected/);
});

test("an edge to a target that is neither a node nor missing is left out", () => {
  const view = acme();
  view.nodes[0].exits[0].target = "nowhere";
  assert.equal(edgeFrom(toFlowEdges(view), "main", "1"), undefined);
});

test("edges on the call's path are marked, the last step most strongly", () => {
  const edges = toFlowEdges(acme());
  const first = edgeFrom(edges, "main", "2");
  const last = edgeFrom(edges, "order", "ok");
  assert.ok(classes(first).includes("jd-on-path"));
  assert.ok(!classes(first).includes("jd-path-last"));
  assert.ok(classes(last).includes("jd-path-last"));
  assert.ok(!classes(edgeFrom(edges, "main", "1")).includes("jd-on-path"));
});

test("arrow heads follow the edge's kind when marker ids are given", () => {
  const markers = { plain: "p", fallback: "f", path: "c" };
  const edges = toFlowEdges(acme(), { markers });
  assert.equal(edgeFrom(edges, "main", "1").markerEnd, "p");
  assert.equal(edgeFrom(edges, "main", "invalid").markerEnd, "f");
  assert.equal(edgeFrom(edges, "main", "2").markerEnd, "c");
});

test("cards carry their states: entry, visited, current, problems", () => {
  const nodes = toFlowNodes(acme());
  const main = byId(nodes, "main");
  assert.ok(classes(main).includes("jd-entry"));
  assert.ok(classes(main).includes("jd-visited"));
  assert.ok(classes(main).includes("jd-has-warning"));
  const confirm = byId(nodes, "confirm");
  assert.ok(classes(confirm).includes("jd-current"));
  assert.ok(classes(confirm).includes("jd-has-error"));
  assert.ok(!classes(byId(nodes, "sales")).includes("jd-visited"));
  assert.equal(byId(nodes, "order").data.severity, "error");
});

test("every card, missing ones included, has the view's one card size", () => {
  const view = acme();
  view.card = [200, 80];
  const nodes = toFlowNodes(view);
  assert.ok(nodes.length > 3);
  for (const node of nodes) assert.deepEqual([node.width, node.height], [200, 80]);
});

test("a missing target is a card of its own kind, placed where the view says", () => {
  const ghost = byId(toFlowNodes(acme()), "ghost");
  assert.equal(ghost.type, "missing");
  assert.deepEqual(ghost.position, { x: 560, y: 498 });
  assert.ok(classes(ghost).includes("jd-missing"));
  assert.ok(edgeFrom(toFlowEdges(acme()), "confirm", "3"));
});

test("cards show at most two preview lines", () => {
  const view = acme();
  view.nodes[0].lines = ["one", "two", "three"];
  assert.deepEqual(byId(toFlowNodes(view), "main").data.lines, ["one", "two"]);
});

test("selection survives a new view", () => {
  const nodes = toFlowNodes(acme(), { selected: new Set(["order"]) });
  assert.equal(byId(nodes, "order").selected, true);
  assert.equal(byId(nodes, "main").selected, false);
  const id = edgeId("main", "1");
  assert.equal(byId(toFlowEdges(acme(), { selected: new Set([id]) }), id).selected, true);
});

test("handles are spread evenly, in exit order, with the '+' handle last", () => {
  const main = acme().nodes[0];
  const handles = sourceHandles(main, [240, 96], "TB");
  assert.deepEqual(
    handles.map((h) => h.text),
    ["1", "2", "9", "invalid", "gave up", "+"],
  );
  const gaps = handles.slice(1).map((h, i) => h.offset - handles[i].offset);
  for (const gap of gaps) assert.ok(Math.abs(gap - gaps[0]) < 1e-9);
  assert.ok(handles[0].offset > 0 && handles.at(-1).offset < 100);
  assert.equal(handles.at(-1).id, ADD_HANDLE);
});

test("crowded handles shorten their text; the tooltip keeps the whole label", () => {
  const exits = [..."123456789", "0", "*", "#"].map((key) => ({ key, label: key, target: "x" }));
  exits.push({ key: "invalid", label: "invalid", target: null, fallback: true });
  const handles = sourceHandles({ exits, add_key: false }, [240, 96], "TB");
  const invalid = handles.find((h) => h.key === "invalid");
  assert.equal(invalid.text, "inv");
  assert.match(invalid.title, /^invalid/);
});

test("a menu whose keys are all used offers no '+' handle", () => {
  const exits = [..."123456789", "0", "*", "#"].map((key) => ({ key, label: key, target: "x" }));
  const handles = sourceHandles({ exits, add_key: true }, [240, 96], "TB");
  assert.ok(!handles.some((h) => h.add));
});

test("the '+' handle offers the next free key in the order 1-9, 0, *, #", () => {
  assert.equal(nextFreeKey([]), "1");
  assert.equal(nextFreeKey([{ key: "1" }, { key: "2" }, { key: "9" }, { key: "invalid" }]), "3");
  const nine = [..."123456789"].map((key) => ({ key }));
  assert.equal(nextFreeKey(nine), "0");
  assert.equal(nextFreeKey([...nine, { key: "0" }]), "*");
  assert.equal(nextFreeKey([...nine, { key: "0" }, { key: "*" }]), "#");
  assert.equal(nextFreeKey([...nine, { key: "0" }, { key: "*" }, { key: "#" }]), null);
});

test("dragging from main's unconnected 'gave up' handle onto sales connects gave_up", () => {
  const message = connectMessage(acme(), {
    source: "main",
    sourceHandle: exitHandle("gave_up"),
    target: "sales",
    targetHandle: DROP_HANDLE,
  });
  assert.deepEqual(message, { type: "connect", source: "main", key: "gave_up", target: "sales" });
});

test("dragging from '+' connects the next free key", () => {
  const message = connectMessage(acme(), { source: "main", sourceHandle: ADD_HANDLE, target: "sales" });
  assert.deepEqual(message, { type: "connect", source: "main", key: "3", target: "sales" });
});

test("a connection that starts from no exit sends nothing", () => {
  assert.equal(connectMessage(acme(), { source: "main", sourceHandle: TARGET_HANDLE, target: "sales" }), null);
  assert.equal(connectMessage(acme(), { source: "sales", sourceHandle: ADD_HANDLE, target: "main" }), null);
  assert.equal(connectMessage(acme(), { source: "main", sourceHandle: exitHandle("1"), target: null }), null);
});

test("handle ids and edge ids read back", () => {
  assert.equal(handleKey(exitHandle("gave_up")), "gave_up");
  assert.equal(handleKey(exitHandle("#")), "#");
  assert.equal(handleKey(ADD_HANDLE), null);
  assert.equal(handleKey(TARGET_HANDLE), null);
  assert.deepEqual(parseEdgeId(edgeId("a:b", "*")), ["a:b", "*"]);
  assert.equal(parseEdgeId("sales"), null);
  assert.notEqual(edgeId("a", "1"), edgeId("a1", ""));
});

test("a search for 'ord' finds order first, then prompts that mention it", () => {
  const found = searchNodes(acme(), "ord");
  assert.equal(found[0].id, "order");
  assert.equal(found[0].where, "id");
  const rest = found.slice(1).map((m) => m.id);
  assert.ok(rest.includes("main"), "main's prompt says 'order number'");
  assert.ok(found.slice(1).every((m) => m.where === "prompt"));
});

test("search ignores case, finds ids that contain the text after those that start with it", () => {
  const found = searchNodes(acme(), "INVALID").map((m) => m.id);
  assert.deepEqual(found.slice(0, 2), ["main_invalid", "confirm_invalid"]);
  assert.deepEqual(searchNodes(acme(), "   "), []);
  assert.deepEqual(searchNodes(acme(), "zzz"), []);
  assert.equal(searchNodes(acme(), "i", 3).length, 3);
});

test("the problem summary reads '2 errors · 1 warning' or 'No problems'", () => {
  assert.deepEqual(problemSummary(countProblems(acme())), { text: "2 errors · 1 warning", level: "error" });
  assert.deepEqual(problemSummary({ error: 0, warning: 2 }), { text: "2 warnings", level: "warning" });
  assert.deepEqual(problemSummary({ error: 1, warning: 0 }), { text: "1 error", level: "error" });
  assert.deepEqual(problemSummary({ error: 0, warning: 0 }), { text: "No problems", level: "ok" });
});

test("problems are counted from cards and the flow when the view has no counts", () => {
  const view = acme();
  delete view.counts;
  view.flow_problems = [{ severity: "error", code: "x", message: "no entry" }];
  assert.deepEqual(countProblems(view), { error: 3, warning: 1 });
  assert.match(summaryTitle(view), /error: no entry/);
});

test("clicking the summary visits cards with errors first, then warnings, and wraps round", () => {
  const order = problemNodes(acme());
  assert.deepEqual(order, ["order", "confirm", "main"]);
  assert.equal(nextInCycle(order, ""), "order");
  assert.equal(nextInCycle(order, "order"), "confirm");
  assert.equal(nextInCycle(order, "main"), "order");
  assert.equal(nextInCycle([], "main"), null);
});

test("a problem badge's tooltip lists its messages, errors first", () => {
  const title = problemTitle([
    { severity: "warning", message: "w" },
    { severity: "error", message: "e" },
  ]);
  assert.equal(title, "error: e\nwarning: w");
});

test("Delete sends the selected nodes and edges; a missing target takes its edges with it", () => {
  const view = acme();
  const nodes = toFlowNodes(view);
  const edges = toFlowEdges(view);
  const message = deleteMessage({
    nodes: [byId(nodes, "sales"), byId(nodes, "ghost")],
    edges: [edgeFrom(edges, "main", "1")],
    allEdges: edges,
  });
  assert.deepEqual(message, { type: "delete", nodes: ["sales"], edges: [["main", "1"], ["confirm", "3"]] });
  assert.equal(deleteMessage({ nodes: [], edges: [], allEdges: edges }), null);
});

test("a drag sends the moved cards' new places rounded, and nothing for cards that stayed", () => {
  const before = viewPositions(acme());
  const message = moveMessage(
    [
      { id: "main", position: { x: 300.4, y: 10.6 } },
      { id: "sales", position: { x: 0, y: 166 } },
      { id: "ghost", type: "missing", position: { x: 1, y: 1 } },
    ],
    before,
  );
  assert.deepEqual(message, { type: "move", positions: { main: [300, 11] } });
  assert.equal(moveMessage([{ id: "sales", position: { x: 0.2, y: 165.9 } }], before), null);
});

test("keys: Ctrl/Cmd+Z undoes, Shift+Ctrl+Z and Ctrl+Y redo, Delete deletes, not in text fields", () => {
  assert.equal(shortcut({ key: "z", ctrlKey: true }), "undo");
  assert.equal(shortcut({ key: "z", metaKey: true }), "undo");
  assert.equal(shortcut({ key: "Z", ctrlKey: true, shiftKey: true }), "redo");
  assert.equal(shortcut({ key: "y", ctrlKey: true }), "redo");
  assert.equal(shortcut({ key: "Delete" }), "delete");
  assert.equal(shortcut({ key: "Backspace" }), "delete");
  assert.equal(shortcut({ key: "Enter" }), "open");
  assert.equal(shortcut({ key: "Backspace", inText: true }), null);
  assert.equal(shortcut({ key: "z", ctrlKey: true, inText: true }), null);
  assert.equal(shortcut({ key: "a" }), null);
  assert.equal(shortcut({ key: "Delete", ctrlKey: true }), null);
});

test("Undo's tooltip says what it would take back", () => {
  assert.equal(historyTitle("Undo", "added hangup bye"), "Undo: added hangup bye");
  assert.equal(historyTitle("Redo", null), "Nothing to redo");
  assert.equal(historyTitle("Redo", undefined), "Redo");
});

test("centring on a card aims at its middle", () => {
  assert.deepEqual(cardCentre({ x: 100, y: 40 }, [240, 96]), { x: 220, y: 88 });
});

test("an empty flow is recognised, and every kind has its own colour", () => {
  assert.equal(isEmpty({ nodes: [], missing: [] }), true);
  assert.equal(isEmpty(acme()), false);
  const kinds = ["menu", "collect", "say", "set", "hangup", "transfer", "branch", "subflow", "lookup"];
  assert.equal(new Set(kinds.map(kindColour)).size, kinds.length);
});

test("LR keys sit beside their handles with room for a word; TB keys share the card's width", () => {
  const exits = [..."123456789", "0"].map((key) => ({ key, label: key, target: "x" }));
  exits.push({ key: "invalid", label: "invalid", target: null, fallback: true });
  const tb = sourceHandles({ exits }, [240, 96], "TB").at(-1);
  const lr = sourceHandles({ exits }, [240, 96], "LR").at(-1);
  assert.equal(tb.text, "inv");
  assert.equal(lr.text, "invalid");
});

test("React Flow is told where each handle is: exits along the bottom (TB) or right (LR), the target opposite", () => {
  const main = byId(toFlowNodes(acme()), "main");
  const one = main.handles.find((h) => h.id === exitHandle("1"));
  const offset = main.data.handles.find((h) => h.key === "1").offset;
  assert.equal(one.position, "bottom");
  assert.equal(one.x + one.width / 2, (240 * offset) / 100);
  assert.equal(one.y + one.height / 2, 96);
  const into = main.handles.find((h) => h.id === TARGET_HANDLE);
  assert.deepEqual([into.type, into.position, into.x + into.width / 2, into.y + into.height / 2], ["target", "top", 120, 0]);
  assert.equal(main.handles.filter((h) => h.type === "source").length, main.data.handles.length);
  const view = acme();
  view.direction = "LR";
  const lr = byId(toFlowNodes(view), "main").handles;
  assert.deepEqual(new Set(lr.map((h) => h.position)), new Set(["left", "right"]));
  assert.deepEqual(byId(toFlowNodes(acme()), "main").measured, { width: 240, height: 96 });
});

test("a card with more exits than its side has room for draws its handles smaller", () => {
  const exits = [..."123456789", "0", "*"].map((key) => ({ key, label: key, target: "x" }));
  exits.push({ key: "invalid", label: "invalid", target: null, fallback: true });
  assert.equal(denseHandles({ exits }, [240, 96], "TB"), false);
  assert.equal(denseHandles({ exits }, [240, 96], "LR"), true);
  assert.equal(denseHandles({ exits: exits.slice(0, 4) }, [240, 96], "LR"), false);
});

test("labels are placed on their edges, clear of cards and of each other where there is room", () => {
  const view = acme();
  const labels = placeLabels(view, getSmoothStepPath);
  const edges = toFlowEdges(view, { labels });
  const card = cardSize(view);
  const cards = toFlowNodes(view).map((n) => ({ x: n.position.x, y: n.position.y, w: card[0], h: card[1] }));
  const boxes = edges.map((edge) => {
    const node = view.nodes.find((n) => n.id === edge.source);
    const target = [...view.nodes, ...view.missing].find((n) => n.id === edge.target);
    const handle = sourceHandles(node, card, view.direction).find((h) => h.id === edge.sourceHandle);
    const ends = edgeEnds(node, target, handle.offset, card, view.direction);
    const drawn =
      edge.data.lane != null
        ? aroundPath(ends, edge.data.lane, view.direction)
        : getSmoothStepPath({ ...ends, borderRadius: 8 })[0];
    const at = pointAlong(pathPoints(drawn), edge.data.labelAt);
    const [w, h] = labelSize(edge.label);
    return { id: edge.id, x: at.x - w / 2, y: at.y - h / 2, w, h };
  });
  const shared = (a, b) =>
    Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x)) *
    Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  for (const box of boxes) {
    assert.ok(!cards.some((c) => shared(box, c) > 0), `${box.id} is on a card`);
  }
  // Where two labels touch, each stays at least three quarters readable.
  for (const [i, a] of boxes.entries()) {
    for (const b of boxes.slice(i + 1)) {
      const part = shared(a, b) / Math.min(a.w * a.h, b.w * b.h);
      assert.ok(part < 0.25, `${a.id} and ${b.id} overlap by ${Math.round(part * 100)}%`);
    }
  }
});

test("a polyline is read from React Flow's path and walked by length", () => {
  const [d] = getSmoothStepPath({
    sourceX: 0, sourceY: 0, sourcePosition: "bottom", targetX: 100, targetY: 100, targetPosition: "top", borderRadius: 0,
  });
  const points = pathPoints(d);
  assert.deepEqual(points[0], { x: 0, y: 0 });
  assert.deepEqual(points.at(-1), { x: 100, y: 100 });
  assert.deepEqual(pointAlong(points, 0.5), { x: 50, y: 50 });
  assert.deepEqual(pointAlong(points, 1), { x: 100, y: 100 });
});

test("a flow too wide to fit even at the farthest zoom opens on its entry and the cards it leads to", () => {
  const wide = {
    flow: { entry: "main" },
    card: [240, 96],
    nodes: Array.from({ length: 400 }, (_, i) => ({
      id: i ? `n${i}` : "main",
      position: [i * 280, 0],
      exits: i ? [] : [{ key: "1", target: "n1" }, { key: "2", target: "n2" }, { key: "9", target: "main" }],
    })),
    missing: [],
  };
  assert.deepEqual(openingFocus(wide, 1366, 620), ["main", "n1", "n2"]);
  wide.nodes[0].exits.push({ key: "3", target: "n399" });
  assert.deepEqual(openingFocus(wide, 1366, 620), ["main"], "its targets are spread too far");
  assert.equal(openingFocus(acme(), 1366, 620), null);
  assert.equal(openingFocus({ nodes: [], missing: [] }, 1366, 620), null);
  assert.ok(fitZoom(viewBounds(wide), 1366, 620) < 0.02);
  const fits = { ...wide, nodes: wide.nodes.slice(0, 150) };
  assert.equal(openingFocus(fits, 1366, 620), null, "150 cards in a row fit, small but whole");
});

/** A small tree whose leaves lead back to main, the way Python marks such exits `folded`. */
function backToMain() {
  const exit = (key, target, extra = {}) => ({ key, label: key, target, fallback: false, folded: false, ...extra });
  return {
    flow: { entry: "main" },
    direction: "TB",
    card: [240, 96],
    nodes: [
      { id: "main", kind: "menu", position: [0, 0], exits: [exit("1", "a"), exit("2", "b")] },
      { id: "a", kind: "say", position: [0, 200], exits: [exit("next", "main", { folded: true })] },
      {
        id: "b",
        kind: "collect",
        position: [300, 200],
        exits: [exit("ok", "main", { folded: true }), exit("invalid", "main", { fallback: true, folded: true })],
      },
    ],
    missing: [],
    path: { nodes: [], edges: [], current: null },
  };
}

test("exits back to the start are a marker on their handle, not an edge, until unfolded", () => {
  const view = backToMain();
  assert.deepEqual(
    toFlowEdges(view).map((e) => e.id),
    [edgeId("main", "1"), edgeId("main", "2")],
  );
  const handle = byId(toFlowNodes(view), "a").data.handles[0];
  assert.equal(handle.folded, "main", "the marker goes to main");
  assert.match(handle.title, /back to main/);
  assert.equal(toFlowEdges(view, { folded: false }).length, 5, "unfolded, every exit is an edge");
  assert.equal(byId(toFlowNodes(view, { folded: false }), "a").data.handles[0].folded, null);
});

test("a new view keeps the objects of cards and edges it did not change", () => {
  const first = toFlowNodes(backToMain());
  const same = keepUnchanged(first, toFlowNodes(backToMain()));
  assert.equal(same, first, "nothing changed: the very same array");
  const moved = backToMain();
  moved.nodes[1].position = [10, 210];
  const next = keepUnchanged(first, toFlowNodes(moved));
  assert.notEqual(next, first);
  assert.equal(byId(next, "main"), byId(first, "main"));
  assert.equal(byId(next, "b"), byId(first, "b"));
  assert.notEqual(byId(next, "a"), byId(first, "a"), "the moved card is new");
  assert.deepEqual(byId(next, "a").position, { x: 10, y: 210 });
  const fewer = keepUnchanged(first, first.slice(1));
  assert.deepEqual(fewer.map((n) => n.id), ["a", "b"], "a deleted card is gone");
});

test("zoomed out, every drawn edge is one step line in the overview, fallbacks apart", () => {
  const view = backToMain();
  view.nodes[0].exits.push({ key: "invalid", label: "invalid", target: "b", fallback: true, folded: false });
  const paths = overviewPaths(view);
  assert.equal((paths.plain.match(/M/g) || []).length, 2, "main's keys 1 and 2");
  assert.equal((paths.fallback.match(/M/g) || []).length, 1, "main's invalid");
  assert.equal(paths.path, "");
  // Key 1 leaves main's bottom edge and ends just above a's top middle.
  assert.match(paths.plain, /^M\d+ 101L/);
  assert.match(paths.plain, /L120 195/);
  const unfolded = overviewPaths(view, { folded: false });
  assert.equal((unfolded.plain.match(/M/g) || []).length, 4, "a's next and b's ok as well");
  view.path = { nodes: ["main", "a"], edges: [["main", "1", "a"]], current: "a" };
  assert.equal((overviewPaths(view).path.match(/M/g) || []).length, 1, "the call's step is drawn apart");
});

test("an edge back into its own card or up to an earlier one goes round its card, never through it", () => {
  const card = [240, 96];
  const main = { id: "main", position: [100, 100], exits: [] };
  const earlier = { TB: { id: "earlier", position: [400, -300], exits: [] }, LR: { id: "earlier", position: [-300, 400], exits: [] } };
  const below = { id: "below", position: [100, 400], exits: [] };
  for (const direction of ["TB", "LR"]) {
    for (const target of [main, earlier[direction]]) {
      const lane = backLane(main, target, card, direction);
      assert.notEqual(lane, null, `${direction}: main → ${target.id} runs back`);
      const ends = edgeEnds(main, target, 50, card, direction);
      const points = pathPoints(aroundPath(ends, lane, direction));
      assert.deepEqual(points[0], { x: Math.round(ends.sourceX), y: Math.round(ends.sourceY) });
      assert.deepEqual(points.at(-1), { x: Math.round(ends.targetX), y: Math.round(ends.targetY) });
      // Sampled along its length, no point of the edge lies inside main's card.
      for (let t = 0; t <= 1; t += 0.01) {
        const p = pointAlong(points, t);
        const inside = p.x > 100 && p.x < 340 && p.y > 100 && p.y < 196;
        assert.ok(!inside, `${direction} → ${target.id}: ${JSON.stringify(p)} is inside main's card`);
      }
    }
  }
  assert.equal(backLane(main, below, card, "TB"), null, "an edge running on is React Flow's own step");
  const acmeEdges = toFlowEdges(acme());
  assert.notEqual(edgeFrom(acmeEdges, "main", "9").data.lane, null, "9 · hear this again");
  assert.notEqual(edgeFrom(acmeEdges, "confirm", "2").data.lane, null, "2 · re-enter, back up to order");
  assert.equal(edgeFrom(acmeEdges, "main", "1").data.lane, null);
});

test("a call inside a sub-flow lights up the subflow's card: visited, and current while it waits there", () => {
  const view = {
    card: [240, 96],
    nodes: [
      { id: "main", kind: "menu", position: [0, 0], exits: [{ key: "1", target: "account" }] },
      { id: "account", kind: "subflow", position: [0, 200], exits: [] },
      { id: "bye", kind: "hangup", position: [300, 200], exits: [] },
    ],
    missing: [],
    path: { nodes: ["main", "account/ask"], edges: [["main", "1", "account/ask"]], current: "account/ask" },
  };
  const account = byId(toFlowNodes(view), "account");
  assert.ok(classes(account).includes("jd-visited"));
  assert.ok(classes(account).includes("jd-current"));
  assert.ok(!classes(byId(toFlowNodes(view), "bye")).includes("jd-visited"));
  assert.ok(edgeFrom(toFlowEdges(view), "main", "1").data.onPath, "main's key 1 into the piece");
  assert.equal(cardOfStep("account/ask"), "account");
  assert.equal(cardOfStep("main"), "main");
});

test("the traffic overlay: calls per card and per edge, edges wider with more calls", () => {
  const view = {
    direction: "TB",
    card: [200, 80],
    nodes: [
      { id: "main", kind: "menu", position: [0, 0], exits: [{ key: "1", label: "1", target: "sales" }, { key: "2", label: "2", target: "order" }] },
      { id: "sales", kind: "transfer", position: [0, 200], exits: [] },
      { id: "order", kind: "collect", position: [300, 200], exits: [] },
    ],
    missing: [],
    traffic: {
      calls: 40,
      nodes: { main: { calls: 40, hung_up: 5, gave_up: 0 }, sales: { calls: 30, hung_up: 0, gave_up: 0 } },
      edges: [["main", "1", "sales", 30]],
      most: 30,
    },
  };
  const nodes = toFlowNodes(view);
  assert.equal(nodes.find((n) => n.id === "main").data.traffic, "40 calls (100%) · 5 hung up");
  assert.equal(nodes.find((n) => n.id === "order").data.traffic, "no calls");
  const edges = toFlowEdges(view);
  const busy = edges.find((e) => e.data.key === "1");
  const idle = edges.find((e) => e.data.key === "2");
  assert.equal(busy.label, "1 · 30");
  assert.equal(idle.label, "2 · 0");
  assert.ok(busy.style.strokeWidth > idle.style.strokeWidth);
  assert.match(idle.className, /jd-unused/);
  assert.equal(trafficWidth(30, 30), 9);
  assert.equal(trafficWidth(0, 30), 1.5);
  assert.equal(trafficLine({ calls: 1234, hung_up: 0, gave_up: 2 }, 0), "1,234 calls · 2 gave up");
  const plain = toFlowEdges({ ...view, traffic: null });
  assert.equal(plain.find((e) => e.data.key === "1").label, "1");
  assert.equal(toFlowNodes({ ...view, traffic: null })[0].data.traffic, null);
});
