import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, apiClient } from "../src/api.js";

function fakeFetch(status, body) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, init });
    return { ok: status < 400, status, statusText: "x", text: async () => (typeof body === "string" ? body : JSON.stringify(body)) };
  };
  return { fn, calls };
}

test("the key travels in x-functions-key and ids are encoded", async () => {
  const fake = fakeFetch(200, { run_id: "r" });
  const api = apiClient({ base: "http://h/api", getKey: () => "k1", fetchFn: fake.fn });
  await api.getRun("run/<x>");
  assert.equal(fake.calls[0].url, "http://h/api/runs/run%2F%3Cx%3E");
  assert.equal(fake.calls[0].init.headers["x-functions-key"], "k1");
});

test("the API's error keeps its code, message and problems", async () => {
  const problems = [{ path: "$.tasks[0].key", message: "Field required", code: "schema" }];
  const api = apiClient({ base: "", getKey: () => null, fetchFn: fakeFetch(400, { error: { code: "invalid_definition", message: "bad", problems } }).fn });
  await assert.rejects(api.validate({}), (err) => err instanceof ApiError && err.status === 400 &&
    err.code === "invalid_definition" && err.detail === "bad" && err.problems[0].path === "$.tasks[0].key");
});

test("401 is its own error so the page asks for the key again; a non-JSON error keeps its text", async () => {
  await assert.rejects(apiClient({ base: "", getKey: () => "bad", fetchFn: fakeFetch(401, "").fn }).listRuns({}),
    (err) => err.status === 401 && err.code === "unauthorized");
  await assert.rejects(apiClient({ base: "", getKey: () => null, fetchFn: fakeFetch(502, "gateway down").fn }).listJobs(),
    (err) => err.status === 502 && err.detail === "gateway down");
});

test("list queries leave out empty filters; repair without ticks sends no task list", async () => {
  const fake = fakeFetch(200, {});
  const api = apiClient({ base: "", getKey: () => null, fetchFn: fake.fn });
  await api.listRuns({ job: "a", status: "", limit: "50" });
  await api.repair("r", []);
  assert.equal(fake.calls[0].url, "/runs?job=a&limit=50");
  assert.equal(fake.calls[1].init.body, "{}");
});
