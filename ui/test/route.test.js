import assert from "node:assert/strict";
import { test } from "node:test";
import { hashFor, parseHash, runHash } from "../src/route.js";

test("a run page with the key in the fragment", () => {
  assert.deepEqual(parseHash("#/runs/run-abc?key=k%2F1"), { route: { page: "run", runId: "run-abc", task: null }, query: {}, key: "k/1" });
});

test("the runs list keeps its filters and is the default page", () => {
  assert.deepEqual(parseHash("#/runs?job=a&status=FAILED"), { route: { page: "runs" }, query: { job: "a", status: "FAILED" }, key: null });
  assert.deepEqual(parseHash("").route, { page: "runs" });
});

test("jobs, one job, validate and unknown pages", () => {
  assert.deepEqual(parseHash("#/jobs").route, { page: "jobs" });
  assert.deepEqual(parseHash("#/jobs/daily%20sales").route, { page: "job", jobId: "daily sales" });
  assert.deepEqual(parseHash("#/validate").route, { page: "validate" });
  assert.deepEqual(parseHash("#/nope/x").route, { page: "notfound", path: "nope/x" });
});

test("hashes are encoded and leave out empty filters", () => {
  assert.equal(hashFor("/runs", { job: "a b", status: "", trigger: undefined }), "#/runs?job=a+b");
  assert.equal(runHash("run-<x>"), "#/runs/run-%3Cx%3E");
  assert.equal(parseHash(runHash("run-<x>")).route.runId, "run-<x>");
});
