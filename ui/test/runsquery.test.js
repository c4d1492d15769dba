import assert from "node:assert/strict";
import { test } from "node:test";
import { filterRows, filtersFrom, listQuery } from "../src/runsquery.js";

const NOW = Date.parse("2026-03-01T12:00:00Z");

test("filters become the API's query with a creation-time window", () => {
  assert.deepEqual(listQuery({ job: "sales", status: "FAILED", range: "24h" }, NOW, "tok"), {
    limit: "50", job: "sales", status: "FAILED", from: "2026-02-28T12:00:00.000Z", to: "2026-03-01T12:01:00.000Z", continuation: "tok",
  });
  assert.equal(listQuery({}, NOW).from, "2026-02-22T12:00:00.000Z");
});

test("the trigger kind filters rows, since the API has no such filter", () => {
  const rows = [{ run_id: "a", trigger_kind: "blob" }, { run_id: "b", trigger_kind: "http" }, { run_id: "c" }];
  assert.deepEqual(filterRows(rows, { trigger: "http" }).map((r) => r.run_id), ["b"]);
  assert.equal(filterRows(rows, { trigger: "" }).length, 3);
  assert.deepEqual(filterRows(undefined, {}), []);
});

test("unknown filter values from the address are dropped", () => {
  assert.deepEqual(filtersFrom({ trigger: "<script>", range: "forever", job: "j" }), { job: "j", status: "", trigger: "", range: "7d" });
});
