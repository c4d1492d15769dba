// The JSON API (docs/api.md) as the page calls it: the key travels in `x-functions-key`; every error is
// an ApiError with the API's code, message and problems (JSON paths).

export class ApiError extends Error {
  constructor(status, code, message, problems = []) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
    this.detail = message;
    this.problems = Array.isArray(problems) ? problems : [];
  }
}

export function apiClient({ base, getKey, fetchFn }) {
  async function call(method, path, { body, query } = {}) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") params.set(k, v);
    const url = `${base}${path}${params.toString() ? `?${params}` : ""}`;
    const headers = { Accept: "application/json" };
    const key = getKey();
    if (key) headers["x-functions-key"] = key;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetchFn(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (exc) {
      throw new ApiError(0, "unreachable", `${method} ${path}: ${exc && exc.message ? exc.message : exc}`);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = data && typeof data === "object" ? data.error : null;
      if (response.status === 401) throw new ApiError(401, "unauthorized", "the function key was refused");
      if (error && typeof error === "object") {
        throw new ApiError(response.status, String(error.code), String(error.message), error.problems);
      }
      throw new ApiError(response.status, "http_error", text.slice(0, 300) || response.statusText || "request failed");
    }
    return data;
  }
  const q = encodeURIComponent;
  return {
    listRuns: (query) => call("GET", "/runs", { query }),
    getRun: (runId) => call("GET", `/runs/${q(runId)}`),
    taskLogs: (runId, taskKey) => call("GET", `/runs/${q(runId)}/tasks/${q(taskKey)}/logs`),
    cancel: (runId, reason) => call("POST", `/runs/${q(runId)}/cancel`, { body: reason ? { reason } : {} }),
    repair: (runId, tasks) =>
      call("POST", `/runs/${q(runId)}/repair`, { body: tasks && tasks.length ? { tasks } : {} }),
    runJob: (jobId, parameters) =>
      call("POST", `/jobs/${q(jobId)}/runs`, { body: { parameters, actor: "run monitor" } }),
    listJobs: () => call("GET", "/jobs"),
    getJob: (jobId) => call("GET", `/jobs/${q(jobId)}`),
    validate: (body) => call("POST", "/ui-api/validate", { body }),
  };
}
