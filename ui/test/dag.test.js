import assert from "node:assert/strict";
import { test } from "node:test";
import { dagModel, layoutDag, sameShape } from "../src/dag.js";

const JOB = {
  tasks: [
    { key: "extract" },
    { key: "check", depends_on: [{ task_key: "extract" }], payload: { kind: "condition" } },
    { key: "load", depends_on: [{ task_key: "check", outcome: "true" }] },
    { key: "alert", depends_on: [{ task_key: "load" }, { task_key: "gone" }], run_if: "AT_LEAST_ONE_FAILED" },
  ],
};

test("nodes carry live states; edges carry condition outcomes and run_if", () => {
  const model = dagModel(JOB, { tasks: { extract: { state: "SUCCESS", attempts: 2 }, extra: { state: "RUNNING" } } });
  assert.deepEqual(model.nodes.map((n) => [n.key, n.state]),
    [["extract", "SUCCESS"], ["check", "PENDING"], ["load", "PENDING"], ["alert", "PENDING"], ["extra", "RUNNING"]]);
  assert.deepEqual(model.edges, [
    { from: "extract", to: "check", label: "" },
    { from: "check", to: "load", label: "true" },
    { from: "load", to: "alert", label: "at_least_one_failed" },
  ]);
});

test("a run without its definition still shows its tasks; odd records are read defensively", () => {
  const model = dagModel(null, { tasks: { a: {}, b: { state: "FAILED" } } });
  assert.deepEqual(model.nodes.map((n) => n.state), ["PENDING", "FAILED"]);
  assert.deepEqual(dagModel({ tasks: [null, { key: 3 }] }, { tasks: null }), { nodes: [], edges: [] });
});

test("layers go left to right in dependency order", () => {
  const layout = layoutDag(dagModel(JOB, {}));
  const x = Object.fromEntries(layout.nodes.map((n) => [n.key, n.x]));
  assert.ok(x.extract < x.check && x.check < x.load && x.load < x.alert);
  assert.ok(layout.width > 0 && layout.height > 0);
  assert.ok(layout.edges.every((e) => e.points.length >= 2));
});

test("a state change keeps the shape (no new layout); a new task does not", () => {
  const a = dagModel(JOB, { tasks: { extract: { state: "RUNNING" } } });
  const b = dagModel(JOB, { tasks: { extract: { state: "SUCCESS" } } });
  const c = dagModel(JOB, { tasks: { late: {} } });
  assert.equal(sameShape(a, b), true);
  assert.equal(sameShape(a, c), false);
});

test("a 1,000-task DAG lays out", () => {
  const tasks = Array.from({ length: 1000 }, (_, i) => ({ key: `t${i}`, depends_on: i ? [{ task_key: `t${Math.floor((i - 1) / 3)}` }] : [] }));
  const layout = layoutDag(dagModel({ tasks }, {}));
  assert.equal(layout.nodes.length, 1000);
});
