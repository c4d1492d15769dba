// The trigger that started a run, in words: which blob (path and ETag), which message, which schedule fire,
// which HTTP caller. The run view carries either the start request's trigger ({kind, detail, actor}) or,
// once the instance is gone, tracking's ({kind, source, actor, event_id}); both read the same here.

import { shortTime } from "./format.js";

const KNOWN = {
  blob: [["blob", (d) => (d.container && d.name ? `${d.container}/${d.name}` : d.path || d.blob_path)],
    ["ETag", (d) => d.etag], ["URL", (d) => d.url || d.blob_url], ["size", (d) => (d.size !== undefined ? `${d.size} bytes` : undefined)],
    ["rule", (d) => d.rule]],
  servicebus: [["queue", (d) => d.queue], ["message id", (d) => d.message_id], ["idempotency key", (d) => d.idempotency_key]],
  schedule: [["fire time", (d) => (d.scheduled_time ? shortTime(d.scheduled_time) : undefined)],
    ["schedule", (d) => (d.quartz_cron_expression ? `${d.quartz_cron_expression} in ${d.timezone_id || "UTC"}` : undefined)]],
  repair: [["repair of run", (d) => d.of_run_id], ["repairs run", (d) => d.repairs]],
};
const USED = {
  blob: ["container", "name", "path", "blob_path", "etag", "url", "blob_url", "size", "rule"],
  servicebus: ["queue", "message_id", "idempotency_key"],
  schedule: ["scheduled_time", "quartz_cron_expression", "timezone_id"],
  repair: ["of_run_id", "repairs"],
};
const CALLED = new Set(["http", "cli", "api", "manual"]);
const NO_CALLER = "not named (the request gave no actor)";

function text(value) {
  if (value === undefined || value === null || value === "") return undefined;
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** [label, value] pairs, the kind's own facts first, then whatever else the trigger carried, by its name. */
export function triggerFacts(trigger) {
  if (!trigger || typeof trigger !== "object") return [];
  const kind = String(trigger.kind || "");
  const detail = trigger.detail && typeof trigger.detail === "object" ? trigger.detail : {};
  const facts = [["kind", kind || "unknown"]];
  for (const [label, pick] of KNOWN[kind] || []) {
    const value = text(pick(detail));
    if (value !== undefined) facts.push([label, value]);
  }
  if (CALLED.has(kind)) facts.push(["caller", text(trigger.actor) ?? NO_CALLER]);
  else if (text(trigger.actor) !== undefined) facts.push(["by", text(trigger.actor)]);
  if (text(trigger.source) !== undefined) facts.push(["source", text(trigger.source)]);
  if (text(trigger.event_id) !== undefined) facts.push([kind === "blob" ? "ETag" : kind === "servicebus" ? "message id" : "event id", text(trigger.event_id)]);
  const used = new Set(USED[kind] || []);
  for (const [key, value] of Object.entries(detail)) {
    if (!used.has(key) && text(value) !== undefined) facts.push([key, text(value)]);
  }
  return facts;
}

/** One line for the run's header, e.g. "blob incoming/a/_READY (ETag 0x8D…)". */
export function triggerSummary(trigger) {
  const facts = new Map(triggerFacts(trigger));
  const kind = facts.get("kind");
  if (!kind) return "unknown";
  const parts = {
    blob: () => [facts.get("blob") || facts.get("source"), facts.get("ETag") ? `(ETag ${facts.get("ETag")})` : ""],
    servicebus: () => [facts.get("message id") ? `message ${facts.get("message id")}` : "", facts.get("queue") ? `on ${facts.get("queue")}` : ""],
    schedule: () => [facts.get("fire time") ? `fire time ${facts.get("fire time")}` : facts.get("source")],
    repair: () => [facts.get("repair of run") ? `of ${facts.get("repair of run")}` : ""],
  }[kind];
  const caller = facts.get("caller");
  const rest = parts ? parts() : [caller === NO_CALLER ? "(caller not named)" : caller ? `by ${caller}` : ""];
  return [kind, ...rest].filter(Boolean).join(" ");
}
