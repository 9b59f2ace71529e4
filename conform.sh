#!/usr/bin/env bash
# The main job: the conformance scenarios (Flink writing into MariaDB through
# the JDBC connector, NATS JetStream where present) against the private local
# stack, with a report in build/report/conformance.md (and .xml).
# Installs and builds what is missing first; leaves the stack running so the
# REPL can inspect what the scenarios left (`build/fmhost stack down` ends it).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"
tools/setup.sh || exit 1
build/fmhost stack up || exit 1
mkdir -p build/report
build/fmhost specs/scenarios --junit build/report/conformance.xml "$@"
status=$?
build/fmhost -e 'require("fmhost.report").junit_to_markdown(
  "build/report/conformance.xml", "build/report/conformance.md", "fmhost conformance")' \
  && echo "report: $root/build/report/conformance.md"
exit $status
