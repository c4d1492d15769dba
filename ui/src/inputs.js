// A fan-out's failed inputs as the run view carries them (`failed_inputs`: count, the first few listed
// with their exit code, message and log links, the rest in a blob named by `ref`).

/** The table rows and a caption; null when the task has no failed inputs. */
export function failedInputs(task) {
  const failed = task && task.failed_inputs;
  if (!failed || typeof failed !== "object") return null;
  const listed = Array.isArray(failed.listed) ? failed.listed : [];
  const count = Number.isInteger(failed.count) ? failed.count : listed.length;
  if (!count) return null;
  const rows = listed.map((f) => ({
    index: String(f.index ?? ""),
    input: f.input === null || f.input === undefined ? "" : String(f.input),
    exit: f.exit_code === null || f.exit_code === undefined ? "" : String(f.exit_code),
    message: f.message ? String(f.message) : "",
    // only web links become links: a stored value never runs script in the page
    logs: Object.entries(f.log_urls || {}).filter(([, url]) => /^https?:\/\//i.test(String(url)))
      .map(([name, url]) => [name, String(url)]),
  }));
  const caption = rows.length < count ? `${count} inputs failed; the first ${rows.length} are listed`
    : `${count} input${count === 1 ? "" : "s"} failed`;
  return { caption, rows };
}
