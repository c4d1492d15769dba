import assert from "node:assert/strict";
import { test } from "node:test";
import { computeFacts, computeText, renderedParameters } from "../src/compute.js";

const batch = { kind: "batch", mode: "autoPool", pool_or_cluster: "jc-pool-1", node_size: "Standard_D2s_v3", node_count: 2, spot: false };

test("compute in one line and as labelled facts from the latest attempt that recorded it", () => {
  assert.equal(computeText(batch), "batch · autoPool · jc-pool-1 · 2 x Standard_D2s_v3");
  assert.equal(computeText("local"), "local");
  assert.equal(computeText(null), "");
  const task = { compute: "batch", attempt_history: [{ compute: { kind: "local" } }, { compute: batch }, { compute: null }] };
  assert.deepEqual(computeFacts(task), [["kind", "batch"], ["cluster mode", "autoPool"], ["pool or cluster", "jc-pool-1"],
    ["node type", "Standard_D2s_v3"], ["nodes", "2"], ["spot", "no"]]);
  assert.deepEqual(computeFacts({ compute: "databricks", attempt_history: [] }), [["kind", "databricks"]]);
  assert.deepEqual(computeFacts({}), []);
});

test("rendered parameters come from the latest attempt that has them, never from a secure one", () => {
  assert.deepEqual(renderedParameters({ attempt_history: [{ parameters: { day: "1" } }, { parameters: { day: "2" } }] }), { day: "2" });
  assert.deepEqual(renderedParameters({ attempt_history: [{ parameters: { day: "1" } }, { parameters: { pw: "x" }, secure_input: true }] }),
    null);
  assert.equal(renderedParameters({ attempt_history: [{ state: "SUCCESS" }] }), null);
  assert.equal(renderedParameters({}), null);
});
