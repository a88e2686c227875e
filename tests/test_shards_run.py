"""``--shard K/N`` end to end, under fork and spawn, on the fidelity suite.

That suite holds a module with ``setUpModule`` that Django's order cuts into two stretches
(``ledger.tests.test_module_mixed_types`` and ``...#2``), so a shard may hold a second stretch
without its first. Every shard must run, the shards must be disjoint and together be the whole
suite, and the unit keys the shards write to their timings files must be an unsharded run's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_fidelity import fidelity_env, run_concurrent

SHARDS = 3
SPLIT_MODULE = "ledger.tests.test_module_mixed_types"


def _keys(timings: Path) -> set[str]:
    return set(json.loads(timings.read_text())["units"])


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_every_shard_runs_and_together_they_are_the_whole_suite(
    tmp_path: Path, start_method: str
) -> None:
    env = fidelity_env("sqlite", tmp_path)
    whole_timings = tmp_path / "whole.json"
    whole = run_concurrent(
        env, tmp_path / "whole-report.json", "--timings-file", str(whole_timings)
    )
    assert whole.tests, whole.output
    whole_ids = {entry["id"] for entry in whole.tests}
    whole_keys = _keys(whole_timings)
    assert {SPLIT_MODULE, f"{SPLIT_MODULE}#2"} <= whole_keys, sorted(whole_keys)

    shard_ids: list[set[str]] = []
    shard_keys: list[set[str]] = []
    for k in range(1, SHARDS + 1):
        # A timings file of its own per shard, empty before: every shard plans alike.
        timings = tmp_path / f"shard-{k}.json"
        run = run_concurrent(
            env,
            tmp_path / f"shard-{k}-report.json",
            "--shard",
            f"{k}/{SHARDS}",
            "--start-method",
            start_method,
            "--timings-file",
            str(timings),
        )
        assert run.returncode in (0, 1), run.output  # the fidelity suite has failing tests
        assert run.tests, run.output
        shard_ids.append({entry["id"] for entry in run.tests})
        shard_keys.append(_keys(timings))

    for i in range(SHARDS):
        for j in range(i + 1, SHARDS):
            # A module fixture's pseudo-id ("setUpModule (mod)") comes once per stretch, in
            # serial too; each stretch's error may land in another shard.
            both = {t for t in shard_ids[i] & shard_ids[j] if not t.startswith("setUpModule (")}
            assert not both, (i + 1, j + 1, both)
            assert not shard_keys[i] & shard_keys[j]
    assert set().union(*shard_ids) == whole_ids
    assert set().union(*shard_keys) == whole_keys
