import assert from "node:assert/strict";
import { test } from "node:test";
import { RUN_STATES, isRepairable, stateLook } from "../src/states.js";

test("every run state has its own symbol and label, not only a colour", () => {
  const looks = RUN_STATES.map(stateLook);
  assert.equal(new Set(looks.map((l) => l.label)).size, RUN_STATES.length);
  assert.ok(looks.every((l) => l.symbol && l.tone !== "unknown"));
  assert.notEqual(stateLook("FAILED").symbol, stateLook("SUCCESS").symbol);
});

test("an unknown state is shown by its name", () => {
  assert.deepEqual(stateLook("BRAND_NEW"), { symbol: "?", tone: "unknown", label: "brand_new" });
  assert.equal(stateLook(undefined).label, "pending");
});

test("repair without a list reruns failed, timed out, canceled and upstream-failed tasks", () => {
  assert.deepEqual(["FAILED", "TIMEDOUT", "CANCELED", "UPSTREAM_FAILED", "SUCCESS", "RUNNING"].filter(isRepairable),
    ["FAILED", "TIMEDOUT", "CANCELED", "UPSTREAM_FAILED"]);
});
