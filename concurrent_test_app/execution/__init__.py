"""The parent's side of a run.

plan (what runs), scaling and cgroups (how many workers), limits (what they may take),
scheduler (which unit next), pool (the loop and dispatch), supervision (every lost worker),
workers (the handle on one process), replay (onto the runner's result), outcome (how it ended).
"""
