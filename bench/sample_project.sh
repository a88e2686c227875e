#!/usr/bin/env bash
# Side-by-side wall times on sample_project (SQLite): Django serial, Django --parallel 2 and
# concurrent_test --workers 2, alternated, three rounds. Run from the repository root after
# `make demo` (which migrates the sample database, so timing history is there).
set -u
cd "$(dirname "$0")/../sample_project"
PY=../.venv/bin/python
for round in 1 2 3; do
    for cmd in "test" "test --parallel 2" "concurrent_test --workers 2"; do
        start=$(date +%s.%N)
        $PY manage.py $cmd --noinput >/dev/null 2>&1
        status=$?
        end=$(date +%s.%N)
        echo "round=$round cmd='manage.py $cmd' exit=$status wall=$(echo "$end - $start" | bc)s"
    done
done
