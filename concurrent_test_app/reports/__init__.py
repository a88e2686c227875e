"""What a run leaves for CI and people: records, summary, JSON, JUnit, metrics, progress,
the worker log line."""
