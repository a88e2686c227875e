"""The child process: its own connections, one work unit at a time, plain events back.

It imports the protocol, the suite cutting and the database attach step, never the
parent's execution, the runner or the history (import-linter keeps it so)."""
