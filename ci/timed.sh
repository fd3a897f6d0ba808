#!/bin/sh
# Runs a command and prints how long it took: "TIME <step> <seconds>s".
# make test uses it so a run's log splits its wall time by step.
set -u
step=$1
shift
start=$(date +%s)
"$@"
rc=$?
echo "TIME $step $(( $(date +%s) - start ))s"
exit $rc
