"""Pure helpers the orchestrators use: ids, retry and polling arithmetic, payload models, and the mapping
of a spec `Task` onto Batch and cluster requests. Nothing here does I/O, reads a clock or the environment,
so orchestrators may call it during replay."""
