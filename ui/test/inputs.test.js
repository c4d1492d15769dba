import assert from "node:assert/strict";
import { test } from "node:test";
import { failedInputs } from "../src/inputs.js";

test("every listed failed input becomes a row with its exit code and log links", () => {
  const task = { failed_inputs: { count: 2, listed: [
    { index: 3, input: "c.csv", exit_code: 33, message: "exit code 33", log_urls: { "stderr.txt": "http://h/e" } },
    { index: 7, input: null, exit_code: null },
  ] } };
  const shown = failedInputs(task);
  assert.equal(shown.caption, "2 inputs failed");
  assert.deepEqual(shown.rows[0], { index: "3", input: "c.csv", exit: "33", message: "exit code 33", logs: [["stderr.txt", "http://h/e"]] });
  assert.deepEqual(shown.rows[1], { index: "7", input: "", exit: "", message: "", logs: [] });
});

test("a log link that is not a web address is not offered as a link", () => {
  const task = { failed_inputs: { count: 1, listed: [{ index: 0, log_urls: { "stderr.txt": "javascript:alert(1)" } }] } };
  assert.deepEqual(failedInputs(task).rows[0].logs, []);
});

test("more failures than listed say how many there are", () => {
  const listed = Array.from({ length: 10 }, (_, i) => ({ index: i, exit_code: 1 }));
  assert.equal(failedInputs({ failed_inputs: { count: 1200, listed } }).caption, "1200 inputs failed; the first 10 are listed");
});

test("a task without failed inputs shows no table", () => {
  assert.equal(failedInputs({}), null);
  assert.equal(failedInputs({ failed_inputs: { count: 0, listed: [] } }), null);
  assert.equal(failedInputs(undefined), null);
});
