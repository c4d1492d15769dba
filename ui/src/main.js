// The run monitor: pages for runs, one run, jobs and validation, drawn from the JSON API.

import { ApiError, apiClient } from "./api.js";
import { drawDag, dagModel, sameShape } from "./dag.js";
import { computeFacts, computeText, renderedParameters } from "./compute.js";
import { clear, h } from "./dom.js";
import { duration, elapsed, shortTime } from "./format.js";
import { failedInputs } from "./inputs.js";
import { RECENT_RUNS, fireTimes, recentResults, scheduleText } from "./jobsview.js";
import { keyStore } from "./key.js";
import { layoutClient } from "./layout-client.js";
import { startPolling } from "./poll.js";
import { placement, timelineModel } from "./timeline.js";
import { triggerFacts, triggerSummary } from "./trigger.js";
import { hashFor, parseHash, runHash } from "./route.js";
import { RANGES, TRIGGER_KINDS, filterRows, filtersFrom, listQuery } from "./runsquery.js";
import { RUN_STATES, isRepairable, stateLook } from "./states.js";

const RUN_POLL_MS = 1000;
const LIST_POLL_MS = 5000;

const keys = keyStore(window.sessionStorage);
const apiBase = `${location.origin}${location.pathname.replace(/\/ui(\/.*)?$/, "")}`;
const api = apiClient({ base: apiBase, getKey: keys.get, fetchFn: (...a) => window.fetch(...a) });
const main = document.getElementById("main");
const layoutDag = layoutClient(() => new Worker("layout.js"));
let leave = () => {};

function badge(state) {
  const look = stateLook(state);
  return h("span", { class: `badge tone-${look.tone}`, "data-state": String(state || "") },
    h("span", { "aria-hidden": "true" }, look.symbol), ` ${look.label}`);
}

function errorBox(err) {
  const e = err instanceof ApiError ? err : new ApiError(0, "client_error", String(err && err.message ? err.message : err));
  return h("div", { class: "error", role: "alert", "data-code": e.code },
    h("strong", {}, `${e.code}`), e.status ? ` (HTTP ${e.status})` : "", `: ${e.detail}`,
    e.problems.length ? h("ul", { class: "problems" }, e.problems.map((p) =>
      h("li", {}, h("code", { class: "path" }, String(p.path ?? "$")), " ", String(p.message ?? ""),
        p.code ? h("span", { class: "muted" }, ` (${p.code})`) : ""))) : "");
}

function notFound(what) {
  return h("section", { class: "notfound", "data-page": "notfound" }, h("h1", {}, "Not found"),
    h("p", {}, what), h("p", {}, h("a", { href: "#/runs" }, "Back to the runs")));
}

function askKey(message) {
  leave();
  clear(main).append(h("section", { class: "keyform", "data-page": "key" },
    h("h1", {}, "Function key"),
    h("p", {}, message),
    h("form", { onsubmit: (ev) => {
      ev.preventDefault();
      keys.set(ev.target.elements.key.value.trim());
      render();
    } },
    h("label", { for: "key" }, "Key "), h("input", { id: "key", name: "key", type: "password", autocomplete: "off", required: true }),
    " ", h("button", { type: "submit" }, "Use this key"))));
  document.getElementById("key").focus();
}

/** Runs an API call for a page: a 401 asks for the key again, other errors are shown in `where`. */
async function guarded(work, where) {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      keys.forget();
      askKey("The key was refused. Enter a function key of the app.");
      return undefined;
    }
    if (where) clear(where).append(errorBox(err));
    throw err;
  }
}

function table(headers, rows, attrs = {}) {
  return h("table", attrs, h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows));
}

function keyValues(obj) {
  const entries = obj && typeof obj === "object" ? Object.entries(obj) : [];
  if (!entries.length) return h("p", { class: "muted" }, "none");
  return h("dl", { class: "kv" }, entries.flatMap(([k, v]) => [h("dt", {}, k),
    h("dd", {}, typeof v === "string" ? v : JSON.stringify(v))]));
}

// ------------------------------------------------------------------ runs list

async function runsPage(query) {
  const filters = filtersFrom(query);
  const status = h("div", { class: "status", "aria-live": "polite" });
  const body = h("div", {});
  const jobSelect = h("select", { name: "job", id: "f-job" }, h("option", { value: "" }, "all jobs"),
    filters.job ? h("option", { value: filters.job, selected: true }, filters.job) : "");
  const form = h("form", { class: "filters", "aria-label": "filters", onchange: () => {
    const data = Object.fromEntries(new FormData(form).entries());
    delete main.dataset.ready;
    location.hash = hashFor("/runs", data);
  }, onsubmit: (ev) => ev.preventDefault() },
  h("label", { for: "f-job" }, "Job "), jobSelect,
  h("label", { for: "f-status" }, " State "),
  h("select", { name: "status", id: "f-status" }, h("option", { value: "" }, "any"),
    RUN_STATES.map((st) => h("option", { value: st, selected: filters.status === st }, stateLook(st).label))),
  h("label", { for: "f-trigger" }, " Trigger "),
  h("select", { name: "trigger", id: "f-trigger" }, h("option", { value: "" }, "any"),
    TRIGGER_KINDS.map((t) => h("option", { value: t, selected: filters.trigger === t }, t))),
  h("label", { for: "f-range" }, " Created in the last "),
  h("select", { name: "range", id: "f-range" },
    Object.keys(RANGES).map((r) => h("option", { value: r, selected: filters.range === r }, r))));
  clear(main).append(h("section", { "data-page": "runs" }, h("h1", {}, "Runs"), form, status, body));

  api.listJobs().then((data) => {
    const ids = (data && Array.isArray(data.jobs) ? data.jobs : []).map((j) => String(j.job_id));
    for (const id of ids.filter((x) => x !== filters.job).sort()) jobSelect.append(h("option", { value: id, selected: filters.job === id }, id));
  }).catch(() => {});

  const pages = [null];
  let next = null;
  async function load() {
    const token = pages[pages.length - 1];
    const data = await guarded(() => api.listRuns(listQuery(filters, Date.now(), token)), body);
    if (!data) return undefined;
    next = data.continuation || null;
    const rows = filterRows(data.runs, filters);
    const now = Date.now();
    const tr = rows.map((r) => h("tr", { "data-run": String(r.run_id) },
      h("td", {}, h("a", { href: runHash(String(r.run_id)) }, String(r.run_id))),
      h("td", {}, r.job_id ?? ""), h("td", {}, r.trigger_kind ?? ""), h("td", {}, badge(r.state)),
      h("td", {}, shortTime(r.created_at)),
      h("td", {}, duration(elapsed(r.start_time || r.created_at, r.end_time, now))),
      h("td", {}, r.repair_count ? String(r.repair_count) : ""),
      h("td", { class: "message" }, r.error_message ?? "")));
    clear(body).append(
      rows.length ? table(["Run", "Job", "Trigger", "State", "Created", "Duration", "Repairs", "Message"], tr, { class: "runs" })
        : h("p", { class: "muted empty" }, "No runs match."),
      h("nav", { class: "pager", "aria-label": "pages" },
        h("button", { type: "button", disabled: pages.length === 1, onclick: () => { pages.pop(); load(); } }, "← Newer"),
        ` page ${pages.length} `,
        h("button", { type: "button", disabled: !next, onclick: () => { pages.push(next); load(); } }, "Older →")));
    status.textContent = `updated ${shortTime(new Date().toISOString())}`;
    main.dataset.ready = "true";
    return data;
  }
  const poller = startPolling({ load: async () => (pages.length === 1 ? load() : undefined), isDone: () => false,
    intervalMs: LIST_POLL_MS });
  leave = () => poller.stop();
}

// ------------------------------------------------------------------ one run

function facts(pairs, attrs = {}) {
  if (!pairs.length) return h("p", { class: "muted" }, "none recorded");
  return h("dl", { class: "kv", ...attrs }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { "data-fact": k }, v)]));
}

function triggerBlock(trigger) {
  if (!trigger || typeof trigger !== "object") return h("p", { class: "muted" }, "unknown");
  return facts(triggerFacts(trigger), { class: "kv trigger" });
}

const SEGMENT_TEXT = { queue: "queued", retry: "retry wait" };

function timeline(run, now) {
  const model = timelineModel(run, now);
  if (!model.rows.length) return h("p", { class: "muted" }, "no task has started yet");
  const legend = h("p", { class: "tl-legend muted" },
    h("span", { class: "tl-sample tl-queue" }), " queue wait (node, pool or cluster starting) ",
    h("span", { class: "tl-sample tl-retry" }), " retry wait ",
    h("span", { class: "tl-sample tl-attempt tone-waiting" }), " attempt (symbol and colour by state) · axis from ",
    shortTime(new Date(model.t0).toISOString()), ` over ${duration(model.span / 1000)}`);
  return h("div", { class: "timeline", role: "list", "data-rows": String(model.rows.length) }, legend, model.rows.map((row) => {
    const look = stateLook(row.state);
    const name = row.generation ? `${row.key} (repair ${row.generation})` : row.key;
    const bars = row.segments.map((seg) => {
      const segLook = seg.kind === "attempt" ? stateLook(seg.state) : null;
      const what = segLook ? `attempt ${seg.attempt}: ${segLook.label}${seg.open ? " (still running)" : ""}`
        : `${SEGMENT_TEXT[seg.kind]} before attempt ${seg.attempt}`;
      const text = `${name}, ${what}, ${duration((seg.to - seg.from) / 1000)}`;
      const bar = h("span", { class: `tl-bar tl-${seg.kind}${segLook ? ` tone-${segLook.tone}` : ""}`, title: text,
        "aria-label": text, role: "img", "data-kind": seg.kind, "data-attempt": String(seg.attempt),
        "data-state": seg.state ? String(seg.state) : "" }, segLook ? segLook.symbol : "");
      // through the CSSOM: the page's content security policy refuses inline style attributes
      const place = placement(seg, model.span);
      bar.style.left = `${place.left}%`;
      bar.style.width = `${place.width}%`;
      return bar;
    });
    const t = row.totals;
    const summary = [`${look.symbol} ${row.attempts} attempt${row.attempts === 1 ? "" : "s"}`, `ran ${duration(t.attempt)}`,
      t.queue ? `queued ${duration(t.queue)}` : "", t.retry ? `retry wait ${duration(t.retry)}` : ""].filter(Boolean).join(" · ");
    return h("div", { class: "tl-row", role: "listitem", "data-task": row.key, "data-generation": String(row.generation) },
      h("span", { class: "tl-key", title: name }, name), h("span", { class: "tl-track" }, bars),
      h("span", { class: "tl-dur" }, summary));
  }));
}

function failedInputsTable(task) {
  const shown = failedInputs(task);
  if (!shown) return "";
  const rows = shown.rows.map((r) => h("tr", {}, h("td", {}, r.index), h("td", {}, r.input), h("td", {}, r.exit),
    h("td", { class: "message" }, r.message),
    h("td", {}, r.logs.map(([name, url]) => h("a", { href: url, rel: "noopener", target: "_blank" }, name, " ")))));
  return [h("h3", {}, "Failed inputs"), h("p", { class: "muted" }, shown.caption),
    table(["Index", "Input", "Exit", "Message", "Logs"], rows, { class: "failed-inputs" })];
}

function taskPanel(runId, key, task, ticked, onTick) {
  const logs = h("div", { class: "logs" });
  const rendered = renderedParameters(task);
  const history = Array.isArray(task.attempt_history) ? task.attempt_history : [];
  const rows = history.map((a) => h("tr", {}, h("td", {}, String(a.generation ?? 0)), h("td", {}, String(a.attempt ?? "")),
    h("td", {}, badge(a.state)), h("td", {}, shortTime(a.start_time || a.start)), h("td", {}, a.exit_code ?? ""),
    h("td", {}, computeText(a.compute)), h("td", { class: "message" }, a.error_message ?? a.message ?? "")));
  return h("section", { class: "panel", "data-panel": key, "aria-label": `task ${key}` },
    h("h2", {}, "Task ", h("code", {}, key), " ", badge(task.state)),
    h("label", {}, h("input", { type: "checkbox", class: "tick", "data-task": key, checked: ticked, onchange: (ev) => onTick(key, ev.target.checked) }),
      " tick for repair"),
    h("dl", { class: "kv" },
      h("dt", {}, "attempts"), h("dd", {}, String(task.attempts ?? 0)),
      h("dt", {}, "started"), h("dd", {}, shortTime(task.start)),
      h("dt", {}, "ended"), h("dd", {}, shortTime(task.end)),
      h("dt", {}, "duration"), h("dd", {}, duration(task.duration_seconds)),
      h("dt", {}, "outcome"), h("dd", {}, task.outcome ?? ""),
      h("dt", {}, "message"), h("dd", { class: "message" }, task.message ?? "")),
    h("h3", {}, "Compute"), facts(computeFacts(task), { class: "kv compute" }),
    rendered ? [h("h3", {}, "Rendered parameters"), keyValues(rendered)] : "",
    history.length ? table(["Gen", "Attempt", "State", "Started", "Exit", "Compute", "Message"], rows, { class: "attempts" }) : "",
    failedInputsTable(task),
    h("button", { type: "button", class: "show-logs", onclick: async () => {
      clear(logs).append(h("p", { class: "muted" }, "loading logs…"));
      const data = await guarded(() => api.taskLogs(runId, key), logs).catch(() => undefined);
      if (!data) return;
      const attempts = Array.isArray(data.attempts) ? data.attempts : [];
      clear(logs).append(...(attempts.length ? attempts.map((a) => h("div", { class: "log-attempt" },
        h("h3", {}, `attempt ${a.attempt ?? "?"} (generation ${a.generation ?? 0}) `, badge(a.state),
          a.exit_code !== undefined && a.exit_code !== null ? ` exit ${a.exit_code}` : ""),
        a.error_message ? h("p", { class: "message" }, a.error_message) : "",
        Object.entries(a.logs || {}).map(([name, text]) => h("div", {}, h("h4", {}, name), h("pre", { class: "log", "data-log": name }, String(text)))),
        a.links && Object.keys(a.links).length ? h("details", {}, h("summary", {}, "links"), keyValues(a.links)) : ""))
        : [h("p", { class: "muted" }, "no logs recorded for this task")]));
    } }, "Show logs"), logs);
}

async function runPage(runId, focusTask) {
  const head = h("div", {});
  const alerts = h("div", { "aria-live": "assertive" });
  const actions = h("div", { class: "actions" });
  const graph = h("div", { class: "graph", tabindex: -1 });
  const panel = h("div", {});
  const line = h("div", {});
  clear(main).append(h("section", { "data-page": "run", "data-run": runId }, h("h1", {}, "Run ", h("code", {}, runId)),
    head, alerts, actions, h("h2", {}, "Graph"), graph, panel, h("h2", {}, "Timeline"), line));

  let job = null;
  let jobTried = false;
  let drawn = null;
  let lastModel = null;
  let selected = focusTask;
  let current = null;
  const ticked = new Set();

  function select(key) {
    selected = key;
    if (current) showPanel(current);
    if (drawn) drawn.update(lastModel, selected);
    const opened = panel.querySelector("h2");
    if (opened) opened.scrollIntoView({ block: "nearest" });
  }
  function showPanel(run) {
    const task = selected && run.tasks ? run.tasks[selected] : null;
    const keep = panel.querySelector(".logs");
    const open = keep && keep.childNodes.length && panel.firstChild && panel.firstChild.dataset.panel === selected;
    if (open) return;
    clear(panel).append(task ? taskPanel(run.run_id, selected, task, ticked.has(selected), (k, on) => (on ? ticked.add(k) : ticked.delete(k)))
      : h("p", { class: "muted" }, "Select a task in the graph to see its attempts, messages and logs."));
  }
  async function act(work, done) {
    clear(alerts);
    try {
      const answer = await guarded(work, alerts);
      if (answer) done(answer);
    } catch {
      /* shown in alerts */
    }
  }
  function drawActions(run) {
    const failed = Object.entries(run.tasks || {}).filter(([, t]) => isRepairable(t.state)).map(([k]) => k);
    const params = h("textarea", { id: "params", rows: 4, cols: 60, "aria-label": "parameters (JSON)" },
      JSON.stringify(run.parameters || {}, null, 2));
    clear(actions).append(
      run.done ? "" : h("button", { type: "button", id: "cancel", onclick: () => act(() => api.cancel(run.run_id, "canceled from the run monitor"),
        () => alerts.append(h("p", { class: "ok" }, "cancel requested"))) }, "Cancel run"),
      run.done && failed.length ? h("button", { type: "button", id: "repair-failed", onclick: () => act(() => api.repair(run.run_id, []),
        (a) => { alerts.append(h("p", { class: "ok" }, `repair ${a.repair_number ?? ""} started: ${(a.rerun_tasks || []).join(", ")}`)); restart(Number(a.repair_number ?? 0)); }) },
      `Repair all failed (${failed.length})`) : "",
      run.done ? h("button", { type: "button", id: "repair-ticked", onclick: () => act(() => {
        if (!ticked.size) throw new ApiError(0, "nothing_ticked", "tick the tasks to repair in their panels first");
        return api.repair(run.run_id, [...ticked]);
      }, (a) => { alerts.append(h("p", { class: "ok" }, `repair ${a.repair_number ?? ""} started`)); ticked.clear(); restart(Number(a.repair_number ?? 0)); }) }, "Repair ticked tasks") : "",
      run.job_id ? h("details", { class: "rerun" }, h("summary", {}, "Run again with edited parameters"), params,
        h("button", { type: "button", id: "run-again", onclick: () => act(() => {
          let parameters;
          try {
            parameters = JSON.parse(params.value || "{}");
          } catch (exc) {
            throw new ApiError(0, "invalid_json", `parameters: ${exc.message}`);
          }
          return api.runJob(run.job_id, parameters);
        }, (a) => { location.hash = runHash(a.run_id); }) }, "Start run")) : "");
  }
  function drawHead(run, now) {
    clear(head).append(h("div", { class: "summary" }, badge(run.state),
      h("dl", { class: "kv" },
        h("dt", {}, "job"), h("dd", {}, run.job_id ? h("a", { href: hashFor(`/jobs/${run.job_id}`) }, run.job_id) : "(inline)"),
        h("dt", {}, "created"), h("dd", {}, shortTime(run.created_at)),
        h("dt", {}, "started"), h("dd", {}, shortTime(run.start)),
        h("dt", {}, "ended"), h("dd", {}, shortTime(run.end)),
        h("dt", {}, "duration"), h("dd", {}, duration(elapsed(run.start || run.created_at, run.end, now))),
        h("dt", {}, "repairs"), h("dd", {}, String(run.repair_count ?? 0)),
        h("dt", {}, "trigger"), h("dd", { id: "trigger-summary" }, triggerSummary(run.trigger)),
        h("dt", {}, "live"), h("dd", { id: "live" }, run.done ? "finished: no more updates" : "updating every second"),
        run.message ? [h("dt", {}, "message"), h("dd", { class: "message" }, run.message)] : ""),
      h("details", { open: true }, h("summary", {}, "Trigger"), triggerBlock(run.trigger)),
      h("details", { open: true }, h("summary", {}, "Parameters"), keyValues(run.parameters))));
  }
  async function load() {
    const run = await guarded(() => api.getRun(runId), null).catch((err) => {
      if (err instanceof ApiError && err.status === 404 && !current) clear(main).append(notFound(`No run ${runId}.`));
      else if (!(err instanceof ApiError && err.status === 401)) clear(alerts).append(errorBox(err));
      return undefined;
    });
    if (!run) return undefined;
    if (!jobTried && run.job_id) {
      jobTried = true;
      try {
        const doc = await api.getJob(run.job_id);
        job = doc && doc.job ? doc.job : null;
      } catch {
        job = null;
      }
    }
    current = run;
    const now = Date.now();
    const model = dagModel(job, run);
    if (drawn && sameShape(model, lastModel)) drawn.update(model, selected);
    else {
      const started = performance.now();
      if (!drawn) clear(graph).append(h("p", { class: "muted" }, `laying out ${model.nodes.length} tasks…`));
      const layout = model.nodes.length ? await layoutDag(model) : null;
      drawn = layout ? drawDag(layout, model, { onSelect: select, selected }) : null;
      clear(graph).append(drawn ? drawn.svg : h("p", { class: "muted" }, "no tasks yet"));
      graph.dataset.drawMs = String(Math.round(performance.now() - started));
    }
    lastModel = model;
    graph.dataset.nodes = String(model.nodes.length);
    drawHead(run, now);
    drawActions(run);
    showPanel(run);
    clear(line).append(timeline(run, now));
    main.dataset.ready = "true";
    return run;
  }
  let poller = null;
  // After a repair the view may still show the finished run until the repair starts: poll until the
  // repair count has reached the repair that was started and that one is done.
  function restart(repairs = 0) {
    if (poller) poller.stop();
    poller = startPolling({ load, isDone: (run) => Boolean(run.done) && Number(run.repair_count ?? 0) >= repairs,
      intervalMs: RUN_POLL_MS });
  }
  restart();
  leave = () => poller && poller.stop();
}

// ------------------------------------------------------------------ jobs

function validateBox() {
  const text = h("textarea", { id: "definition", rows: 12, cols: 80, "aria-label": "job definition (JSON)",
    placeholder: '{"format": "jobclusters/v1", "name": "...", "tasks": [...]}' });
  const out = h("div", { class: "validate-result", "aria-live": "polite" });
  const file = h("input", { type: "file", accept: ".json,application/json", "aria-label": "upload a definition",
    onchange: async (ev) => { const f = ev.target.files[0]; if (f) text.value = await f.text(); } });
  return h("section", { class: "validate", "data-page": "validate" }, h("h2", {}, "Validate a definition"),
    h("p", { class: "muted" }, "Paste or upload a definition in any format the app reads; nothing is stored."),
    text, h("div", {}, file, " ", h("button", { type: "button", id: "validate", onclick: async () => {
      clear(out);
      let body;
      try {
        body = JSON.parse(text.value);
      } catch (exc) {
        out.append(errorBox(new ApiError(0, "invalid_json", `not JSON: ${exc.message}`)));
        return;
      }
      const answer = await guarded(() => api.validate(body), out).catch(() => undefined);
      if (answer) {
        out.append(h("p", { class: "ok", "data-valid": "true" }, `valid ${answer.format ?? ""} definition: job `,
          h("code", {}, String(answer.job && answer.job.name)), `, ${(answer.job && answer.job.tasks || []).length} task(s)`),
        (answer.warnings || []).length ? h("ul", { class: "problems" }, answer.warnings.map((w) => h("li", {},
          h("code", { class: "path" }, String(w.path)), ` ${w.message} (warning)`))) : "");
      }
    } }, "Validate")), out);
}

function scheduleCell(job) {
  const text = scheduleText(job.schedule);
  if (!text) return h("span", { class: "muted" }, "none");
  const next = fireTimes(job);
  return h("div", { class: "schedule" }, h("code", {}, text),
    next.times.length ? h("div", { class: "next-fires" }, `next: ${next.times[0]}`, next.times.length > 1 ? `, then ${next.times[1]}` : "")
      : h("div", { class: "muted next-fires" }, next.note));
}

function resultsCell(jobId, target) {
  api.listRuns({ job: jobId, limit: String(RECENT_RUNS) }).then((d) => {
    const recent = recentResults(d && d.runs);
    clear(target).append(h("span", { class: "results", "data-results": recent.text },
      recent.items.map((r) => h("a", { href: runHash(r.runId), title: `${r.runId}: ${stateLook(r.state).label}` }, badge(r.state))),
      h("div", { class: "muted" }, recent.text)));
  }).catch((err) => clear(target).append(errorBox(err)));
  return target;
}

async function jobsPage() {
  const body = h("div", {});
  clear(main).append(h("section", { "data-page": "jobs" }, h("h1", {}, "Jobs"), body, validateBox()));
  const data = await guarded(() => api.listJobs(), body).catch(() => undefined);
  if (!data) return;
  const jobs = Array.isArray(data.jobs) ? data.jobs : [];
  clear(body).append(jobs.length ? table(["Job", "Format", "Tasks", "Schedule", "Triggers", `Last ${RECENT_RUNS} runs`, "Updated", ""],
    jobs.map((j) => h("tr", { "data-job": String(j.job_id) },
      h("td", {}, h("a", { href: hashFor(`/jobs/${j.job_id}`) }, String(j.job_id))), h("td", {}, j.format ?? ""),
      h("td", {}, String((j.task_keys || []).length)),
      h("td", {}, scheduleCell(j)),
      h("td", {}, (j.triggers || []).map((t) => t && t.kind ? String(t.kind) : "").filter(Boolean).join(", ")),
      h("td", { class: "recent" }, resultsCell(String(j.job_id), h("span", { class: "muted" }, "…"))),
      h("td", {}, shortTime(j.updated_at)),
      h("td", {}, h("a", { href: hashFor("/runs", { job: j.job_id }) }, "runs")))), { class: "jobs" })
    : h("p", { class: "muted" }, "No registered jobs."));
  main.dataset.ready = "true";
}

async function jobPage(jobId) {
  const body = h("div", {});
  clear(main).append(h("section", { "data-page": "job" }, h("h1", {}, "Job ", h("code", {}, jobId)), body));
  let doc;
  try {
    doc = await guarded(() => api.getJob(jobId), body);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) clear(main).append(notFound(`No registered job ${jobId}.`));
    return;
  }
  if (!doc) return;
  const params = h("textarea", { id: "params", rows: 4, cols: 60, "aria-label": "parameters (JSON)" },
    JSON.stringify(Object.fromEntries(((doc.job && doc.job.parameters) || []).map((p) => [p.name, p.default ?? ""])), null, 2));
  const alerts = h("div", {});
  const recent = h("div", {});
  const nextFires = fireTimes(doc);
  clear(body).append(
    h("dl", { class: "kv" }, h("dt", {}, "name"), h("dd", {}, doc.name ?? ""), h("dt", {}, "format"), h("dd", {}, doc.format ?? ""),
      h("dt", {}, "version"), h("dd", {}, String(doc.version ?? "")), h("dt", {}, "schedule"),
      h("dd", {}, doc.schedule ? h("code", {}, scheduleText(doc.schedule)) : "none"),
      doc.schedule ? [h("dt", {}, "next fires"), h("dd", {}, nextFires.times.length
        ? h("ol", { class: "next-fires" }, nextFires.times.map((t) => h("li", {}, t))) : h("span", { class: "muted" }, nextFires.note))] : "",
      h("dt", {}, "triggers"), h("dd", {}, JSON.stringify(doc.triggers || []))),
    h("details", { class: "rerun" }, h("summary", {}, "Run now"), params, h("button", { type: "button", id: "run-now", onclick: async () => {
      clear(alerts);
      try {
        const answer = await guarded(() => api.runJob(jobId, JSON.parse(params.value || "{}")), alerts);
        if (answer) location.hash = runHash(answer.run_id);
      } catch (exc) {
        if (!(exc instanceof ApiError)) clear(alerts).append(errorBox(exc));
      }
    } }, "Start run"), alerts),
    h("h2", {}, "Recent runs"), recent,
    h("div", { class: "side-by-side" },
      h("div", {}, h("h2", {}, "Normalized"), h("pre", { class: "json" }, JSON.stringify(doc.job ?? null, null, 2))),
      h("div", {}, h("h2", {}, "Source"), h("pre", { class: "json" }, JSON.stringify(doc.source ?? null, null, 2)))));
  api.listRuns({ job: jobId, limit: "10" }).then((d) => {
    const runs = Array.isArray(d && d.runs) ? d.runs : [];
    const tally = recentResults(runs, 10);
    clear(recent).append(runs.length ? h("div", {}, h("p", { class: "results", "data-results": tally.text }, `last ${tally.items.length}: ${tally.text}`),
      h("ul", {}, runs.map((r) => h("li", {}, h("a", { href: runHash(String(r.run_id)) }, String(r.run_id)), " ",
        badge(r.state), ` ${shortTime(r.created_at)}`)))) : h("p", { class: "muted" }, "no runs yet"));
  }).catch((err) => clear(recent).append(errorBox(err)));
}

// ------------------------------------------------------------------ routing

function render() {
  leave();
  leave = () => {};
  delete main.dataset.ready;
  const { route, query, key } = parseHash(location.hash);
  if (key) {
    keys.set(key);
    const rest = location.hash.replace(/([?&])key=[^&]*&?/, "$1").replace(/[?&]$/, "");
    history.replaceState(null, "", `${location.pathname}${location.search}${rest}`);
  }
  for (const link of document.querySelectorAll("nav.top a")) {
    link.setAttribute("aria-current", link.dataset.nav === route.page.replace(/^run$/, "runs").replace(/^job$/, "jobs") ? "page" : "false");
  }
  if (route.page === "runs") runsPage(query);
  else if (route.page === "run") runPage(route.runId, route.task);
  else if (route.page === "jobs") jobsPage();
  else if (route.page === "job") jobPage(route.jobId);
  else if (route.page === "validate") clear(main).append(validateBox());
  else clear(main).append(notFound(`No page ${route.path}.`));
}

window.addEventListener("hashchange", render);
render();
