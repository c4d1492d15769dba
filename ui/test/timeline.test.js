import assert from "node:assert/strict";
import { test } from "node:test";
import { placement, timelineModel } from "../src/timeline.js";

const T = (s) => `2026-01-01T00:00:${String(s).padStart(2, "0")}Z`;
const at = (s) => Date.parse(T(s));

test("every attempt with its queue wait and the retry wait between attempts, on one axis", () => {
  const run = { tasks: {
    load: { state: "SUCCESS", attempt_history: [
      { generation: 0, attempt: 1, state: "FAILED", start_time: T(2), end_time: T(5), queue_seconds: 2 },
      { generation: 0, attempt: 2, state: "SUCCESS", start_time: T(12), end_time: T(20), queue_seconds: 1 },
    ] },
  } };
  const model = timelineModel(run, at(59));
  assert.equal(model.t0, at(0));
  assert.equal(model.span, 20_000);
  const [row] = model.rows;
  assert.equal(row.attempts, 2);
  assert.deepEqual(row.segments.map((s) => [s.kind, s.from, s.to, s.state]), [
    ["queue", 0, 2000, undefined],
    ["attempt", 2000, 5000, "FAILED"],
    ["retry", 5000, 11_000, undefined],
    ["queue", 11_000, 12_000, undefined],
    ["attempt", 12_000, 20_000, "SUCCESS"],
  ]);
  assert.deepEqual(row.totals, { queue: 3, attempt: 11, retry: 6 });
});

test("each repair generation is a row of its own, with no retry wait across generations", () => {
  const run = { tasks: { t: { state: "SUCCESS", attempt_history: [
    { generation: 1, attempt: 1, state: "SUCCESS", start_time: T(30), end_time: T(40) },
    { generation: 0, attempt: 1, state: "FAILED", start_time: T(0), end_time: T(10) },
  ] } } };
  const model = timelineModel(run, at(59));
  assert.deepEqual(model.rows.map((r) => [r.key, r.generation, r.state, r.segments.map((s) => s.kind)]), [
    ["t", 0, "FAILED", ["attempt"]],
    ["t", 1, "SUCCESS", ["attempt"]],
  ]);
  assert.equal(model.span, 40_000);
});

test("a running attempt ends at the injected now; a task tracking has not recorded yet comes from the live status", () => {
  const run = { tasks: {
    a: { state: "RUNNING", attempts: 1, start: T(4), end: null, queue_seconds: 3 },
    b: { state: "PENDING" },
  } };
  const model = timelineModel(run, at(10));
  assert.equal(model.rows.length, 1);
  assert.deepEqual(model.rows[0].segments.map((s) => [s.kind, s.from, s.to, Boolean(s.open)]), [
    ["queue", 0, 3000, false],
    ["attempt", 3000, 9000, true],
  ]);
});

test("nothing started yet: no rows and no axis", () => {
  assert.deepEqual(timelineModel({ tasks: { a: { state: "PENDING" } } }, 0), { t0: null, span: 0, rows: [] });
  assert.deepEqual(timelineModel(null, 0).rows, []);
});

test("placement in percent keeps a zero-length bar visible and inside the axis", () => {
  assert.deepEqual(placement({ from: 0, to: 5000 }, 20_000), { left: 0, width: 25 });
  assert.deepEqual(placement({ from: 20_000, to: 20_000 }, 20_000), { left: 99.5, width: 0.5 });
  assert.deepEqual(placement({ from: 10_000, to: 10_000 }, 20_000), { left: 50, width: 0.5 });
});
