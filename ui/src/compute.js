// What a task ran on, from the attempts tracking recorded (their `compute`: kind, mode, pool or cluster,
// node size and count, spot), and the parameters an attempt was rendered with when the view carries them.

/** One line: "batch · autoPool · pool-1 · 2 x Standard_D2s_v3 · spot". */
export function computeText(c) {
  if (!c) return "";
  if (typeof c !== "object") return String(c);
  const size = c.node_size ? `${c.node_count ?? ""}${c.node_count ? " x " : ""}${c.node_size}` : "";
  const known = [c.kind, c.mode, c.pool_or_cluster, size, c.spot ? "spot" : ""].filter(Boolean).join(" · ");
  return known || JSON.stringify(c);
}

function latest(task, pick) {
  const history = Array.isArray(task && task.attempt_history) ? task.attempt_history : [];
  for (let i = history.length - 1; i >= 0; i -= 1) {
    const value = pick(history[i]);
    if (value !== undefined && value !== null) return value;
  }
  return undefined;
}

/** The latest attempt's compute as labelled facts; the live status's kind when tracking has none yet. */
export function computeFacts(task) {
  const c = latest(task, (a) => (a.compute && typeof a.compute === "object" ? a.compute : undefined));
  if (!c) return task && task.compute ? [["kind", String(task.compute)]] : [];
  const facts = [["kind", c.kind], ["cluster mode", c.mode], ["pool or cluster", c.pool_or_cluster],
    ["node type", c.node_size], ["nodes", c.node_count], ["spot", c.spot === undefined || c.spot === null ? undefined : (c.spot ? "yes" : "no")]];
  return facts.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [k, String(v)]);
}

/** The latest attempt's rendered parameters, or null when the view does not carry them (or they are secure). */
export function renderedParameters(task) {
  const row = latest(task, (a) => (a.parameters && typeof a.parameters === "object" ? a : undefined));
  return row && !row.secure_input ? row.parameters : null;
}
