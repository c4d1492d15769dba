// The run page's timeline as data: every attempt of every task and repair generation, with the queue wait
// before each attempt (its `queue_seconds`: submit to the work's own start) and the retry wait between
// attempts of one generation, all on one time axis. Drawing is main.js's; this stays testable in node.

import { parseTime } from "./format.js";

function historyOf(task) {
  const rows = Array.isArray(task.attempt_history) ? task.attempt_history : [];
  const attempts = rows.map((a) => ({
    generation: Number(a.generation ?? 0),
    attempt: Number(a.attempt ?? 1),
    state: a.state,
    start: parseTime(a.start_time ?? a.start),
    end: parseTime(a.end_time ?? a.end),
    queueSeconds: Number(a.queue_seconds) > 0 ? Number(a.queue_seconds) : 0,
  })).filter((a) => a.start !== null);
  if (attempts.length || parseTime(task.start) === null) return attempts;
  // Tracking has not caught up yet: the live status's task is the one attempt known so far.
  return [{ generation: 0, attempt: Number(task.attempts || 1), state: task.state, start: parseTime(task.start),
    end: parseTime(task.end), queueSeconds: Number(task.queue_seconds) > 0 ? Number(task.queue_seconds) : 0 }];
}

/**
 * Rows of segments in milliseconds since `t0`. Segment kinds: "queue" (waiting for a node, pool or cluster),
 * "attempt" (the work itself, with its state) and "retry" (the gap between an attempt's end and the next
 * attempt's submit). An attempt still running ends at `now`.
 */
export function timelineModel(run, now) {
  const rows = [];
  for (const [key, task] of Object.entries((run && run.tasks) || {})) {
    const byGeneration = new Map();
    for (const a of historyOf(task)) {
      if (!byGeneration.has(a.generation)) byGeneration.set(a.generation, []);
      byGeneration.get(a.generation).push(a);
    }
    for (const generation of [...byGeneration.keys()].sort((x, y) => x - y)) {
      const attempts = byGeneration.get(generation).sort((x, y) => x.attempt - y.attempt || x.start - y.start);
      const segments = [];
      let previousEnd = null;
      for (const a of attempts) {
        const end = a.end ?? now;
        const submitted = a.start - a.queueSeconds * 1000;
        if (previousEnd !== null && submitted > previousEnd) {
          segments.push({ kind: "retry", start: previousEnd, end: submitted, attempt: a.attempt });
        }
        if (a.queueSeconds > 0) segments.push({ kind: "queue", start: submitted, end: a.start, attempt: a.attempt });
        segments.push({ kind: "attempt", start: a.start, end: Math.max(end, a.start), attempt: a.attempt,
          state: a.state, open: a.end === null });
        previousEnd = Math.max(end, a.start);
      }
      const last = attempts[attempts.length - 1];
      rows.push({ key, generation, state: last.state, attempts: attempts.length, segments });
    }
  }
  if (!rows.length) return { t0: null, span: 0, rows };
  const all = rows.flatMap((r) => r.segments);
  const t0 = Math.min(...all.map((s) => s.start));
  const span = Math.max(1, Math.max(...all.map((s) => s.end)) - t0);
  rows.sort((x, y) => x.segments[0].start - y.segments[0].start || x.key.localeCompare(y.key) || x.generation - y.generation);
  for (const row of rows) {
    for (const s of row.segments) {
      s.from = s.start - t0;
      s.to = s.end - t0;
    }
    row.totals = { queue: 0, attempt: 0, retry: 0 };
    for (const s of row.segments) row.totals[s.kind] += (s.end - s.start) / 1000;
  }
  return { t0, span, rows };
}

/** Left offset and width of a segment in percent of the axis; a zero-length one stays visible. */
export function placement(segment, span) {
  const left = Math.min((segment.from / span) * 100, 99.5);
  const width = Math.max(0.5, ((segment.to - segment.from) / span) * 100);
  return { left: Number(left.toFixed(2)), width: Number(Math.min(width, 100 - left).toFixed(2)) };
}
