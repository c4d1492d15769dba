// What the jobs pages say about a job's schedule and its recent results, as plain data for the pages.

import { shortTime } from "./format.js";
import { stateLook } from "./states.js";

export const RECENT_RUNS = 5;

/** "0 30 6 * * ? in Europe/Paris", with "(paused)"; "" without a schedule. */
export function scheduleText(schedule) {
  if (!schedule || typeof schedule !== "object" || !schedule.quartz_cron_expression) return "";
  const paused = String(schedule.pause_status || "").toUpperCase() === "PAUSED" ? " (paused)" : "";
  return `${schedule.quartz_cron_expression} in ${schedule.timezone_id || "UTC"}${paused}`;
}

/** The API's next fire times for people: UTC times in order, or why there are none. */
export function fireTimes(job) {
  const times = Array.isArray(job && job.next_fire_times) ? job.next_fire_times.map(shortTime) : [];
  if (times.length) return { times, note: "" };
  if (!job || !job.schedule) return { times, note: "no schedule" };
  if (String(job.schedule.pause_status || "").toUpperCase() === "PAUSED") return { times, note: "paused: no fires" };
  return { times, note: "fires no more" };
}

/**
 * The last `n` runs (the listing is newest first) as states, and a one-line tally such as
 * "3 of 5 succeeded · 2 failed" (states in their labels, so no colour is needed to read it).
 */
export function recentResults(runs, n = RECENT_RUNS) {
  const items = (Array.isArray(runs) ? runs : []).slice(0, n).map((r) => ({ runId: String(r.run_id), state: r.state,
    createdAt: r.created_at }));
  if (!items.length) return { items, text: "no runs yet" };
  const counts = new Map();
  for (const item of items) {
    const label = stateLook(item.state).label;
    counts.set(label, (counts.get(label) || 0) + 1);
  }
  const ok = counts.get(stateLook("SUCCESS").label) || 0;
  counts.delete(stateLook("SUCCESS").label);
  const rest = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([label, c]) => `${c} ${label}`);
  return { items, text: [`${ok} of ${items.length} succeeded`, ...rest].join(" · ") };
}
