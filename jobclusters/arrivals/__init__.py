"""Blob arrivals waiting for the run that takes them: recorded by the Event Grid handler, handed out by
the per-job dispatcher orchestration (`orchestrators.arrivals`)."""
