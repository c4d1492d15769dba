// The run's DAG: tasks from the job definition (edges, run_if, condition outcomes) merged with the live
// task states of the run view; laid out in layers by dagre, drawn as SVG from text nodes only.

import dagre from "@dagrejs/dagre";
import { s } from "./dom.js";
import { stateLook } from "./states.js";

const NODE_H = 46;

function dependencies(task) {
  const deps = Array.isArray(task && task.depends_on) ? task.depends_on : [];
  return deps
    .map((d) => (typeof d === "string" ? { task_key: d } : d))
    .filter((d) => d && typeof d.task_key === "string");
}

/** Nodes and edges: every task of the definition, plus any task only the run knows about. */
export function dagModel(job, run) {
  const defined = Array.isArray(job && job.tasks) ? job.tasks.filter((t) => t && typeof t.key === "string") : [];
  const live = (run && run.tasks && typeof run.tasks === "object") ? run.tasks : {};
  const keys = [...defined.map((t) => t.key), ...Object.keys(live).filter((k) => !defined.some((t) => t.key === k))];
  const known = new Set(keys);
  const byKey = new Map(defined.map((t) => [t.key, t]));
  const nodes = keys.map((key) => {
    const view = live[key] || {};
    const task = byKey.get(key) || {};
    const kind = task.payload && typeof task.payload.kind === "string" ? task.payload.kind : null;
    return { key, state: String(view.state || "PENDING"), attempts: Number(view.attempts || 0), kind,
      runIf: task.run_if && task.run_if !== "ALL_SUCCESS" ? String(task.run_if) : null, outcome: view.outcome ?? null };
  });
  const edges = [];
  for (const task of defined) {
    for (const dep of dependencies(task)) {
      if (!known.has(dep.task_key)) continue;
      const parts = [];
      if (dep.outcome !== undefined && dep.outcome !== null) parts.push(String(dep.outcome));
      if (task.run_if && task.run_if !== "ALL_SUCCESS") parts.push(String(task.run_if).toLowerCase());
      edges.push({ from: dep.task_key, to: task.key, label: parts.join(" · ") });
    }
  }
  return { nodes, edges };
}

/** The same structure (node keys and edges), so a poll only restyles nodes and never lays out again. */
export function sameShape(a, b) {
  if (!a || !b || a.nodes.length !== b.nodes.length || a.edges.length !== b.edges.length) return false;
  return a.nodes.every((n, i) => n.key === b.nodes[i].key) &&
    a.edges.every((e, i) => e.from === b.edges[i].from && e.to === b.edges[i].to);
}

export function nodeWidth(key) {
  return Math.min(260, Math.max(130, 7.2 * String(key).length + 48));
}

// dagre's default ranker (network simplex) grows much faster than linearly: a 1,000-task DAG took ~35x
// the 100-task one. The longest-path ranker keeps layered, left-to-right layers at ~7x.
export const RANKER = "longest-path";

export function layoutDag(model) {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", ranker: RANKER, nodesep: 18, ranksep: 54, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of model.nodes) g.setNode(node.key, { width: nodeWidth(node.key), height: NODE_H });
  model.edges.forEach((e, i) => g.setEdge(e.from, e.to,
    e.label ? { label: e.label, width: 6 * e.label.length + 8, height: 14, labelpos: "c" } : {}, `e${i}`));
  dagre.layout(g);
  const graph = g.graph();
  const nodes = model.nodes.map((n) => {
    const p = g.node(n.key);
    return { key: n.key, x: p.x - p.width / 2, y: p.y - p.height / 2, width: p.width, height: p.height };
  });
  const edges = model.edges.map((e, i) => {
    const laid = g.edge({ v: e.from, w: e.to, name: `e${i}` });
    return { ...e, points: laid.points, labelAt: e.label && laid.x !== undefined ? { x: laid.x, y: laid.y } : null };
  });
  return { width: Math.ceil(graph.width || 0), height: Math.ceil(graph.height || 0), nodes, edges };
}

function clip(text, width) {
  const max = Math.floor((width - 16) / 7);
  return text.length > max ? `${text.slice(0, Math.max(1, max - 1))}…` : text;
}

function nodeLabel(node) {
  const look = stateLook(node.state);
  const tries = node.attempts > 1 ? ` · ${node.attempts} attempts` : "";
  return { look, line: `${look.symbol} ${look.label}${tries}` };
}

/** Draws the layout; returns the SVG and an `update(model)` that restyles nodes in place. */
export function drawDag(layout, model, { onSelect, selected } = {}) {
  const svg = s("svg", { class: "dag", width: layout.width, height: layout.height,
    viewBox: `0 0 ${layout.width} ${layout.height}`, role: "group", "aria-label": "task graph" });
  svg.append(s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
    markerHeight: 7, orient: "auto-start-reverse" }, s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }))));
  for (const edge of layout.edges) {
    const d = edge.points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    const group = s("g", { class: "edge" }, s("path", { d, "marker-end": "url(#arrow)" }));
    if (edge.label) {
      const at = edge.labelAt || edge.points[Math.floor(edge.points.length / 2)];
      group.append(s("text", { x: at.x, y: at.y + 4, class: "edge-label", "text-anchor": "middle" }, edge.label));
    }
    svg.append(group);
  }
  const byKey = new Map(model.nodes.map((n) => [n.key, n]));
  const drawn = new Map();
  for (const box of layout.nodes) {
    const node = byKey.get(box.key);
    const { look, line } = nodeLabel(node);
    const stateText = s("text", { x: 10, y: 36, class: "node-state" }, line);
    const frame = s("rect", { width: box.width, height: box.height, rx: 6, class: "node-frame" });
    const title = s("title", {}, `${node.key}: ${look.label}`);
    const group = s("g", { class: `node tone-${look.tone}`, transform: `translate(${box.x},${box.y})`, tabindex: 0,
      role: "button", "data-task": node.key, "data-state": node.state,
      "aria-label": `task ${node.key}, ${look.label}`, "aria-pressed": selected === node.key ? "true" : "false" },
      title, frame, s("text", { x: 10, y: 18, class: "node-key" }, clip(node.key, box.width)), stateText);
    const choose = () => onSelect && onSelect(node.key);
    group.addEventListener("click", choose);
    group.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); choose(); }
    });
    drawn.set(node.key, { group, stateText, title, width: box.width });
    svg.append(group);
  }
  function update(next, chosen) {
    for (const node of next.nodes) {
      const item = drawn.get(node.key);
      if (!item) continue;
      const { look, line } = nodeLabel(node);
      item.group.setAttribute("class", `node tone-${look.tone}`);
      item.group.setAttribute("data-state", node.state);
      item.group.setAttribute("aria-label", `task ${node.key}, ${look.label}`);
      item.group.setAttribute("aria-pressed", chosen === node.key ? "true" : "false");
      item.stateText.textContent = line;
      item.title.textContent = `${node.key}: ${look.label}`;
    }
  }
  return { svg, update };
}
