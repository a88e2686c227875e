"""The parent's side of a run: the pool of workers, its supervision, the scheduler, worker
scaling and the replay onto the runner's result."""
