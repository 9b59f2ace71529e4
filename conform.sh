#!/usr/bin/env bash
# The main job: the conformance scenarios (specs tagged #conformance: the
# example pipelines, the planted mistakes and faults, and Flink writing every
# MariaDB column type into MariaDB through the JDBC connector) against the
# private local stack, with the HTML report build/report/index.html (+ .json)
# and build/report/conformance.md (and .xml; the per-type summary in
# build/report/conformance-types.json).
# Installs and builds what is missing first; leaves the stack running so the
# REPL can inspect what the scenarios left (`build/fmhost stack down` ends it).
# Extra arguments go to the spec run (e.g. --seed N to replay a run).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"
tools/setup.sh || exit 1
build/fmhost stack up || exit 1
mkdir -p build/report
rm -rf build/report/conformance.xml build/report/conformance-types.json build/report/pipelines
FMHOST_CONFORMANCE_SUMMARY="$root/build/report/conformance-types.json" \
  build/fmhost specs/scenarios --tags conformance --junit build/report/conformance.xml "$@"
status=$?
build/fmhost -e 'require("fmhost.report").junit_to_markdown(
  "build/report/conformance.xml", "build/report/conformance.md", "fmhost conformance",
  { types = "build/report/conformance-types.json" })' \
  && echo "report: $root/build/report/conformance.md"
build/fmhost -e 'local h = assert(require("fmhost.htmlreport").from_run{ title = "fmhost conformance",
  junit = "build/report/conformance.xml" }); print("report: " .. h)'
exit $status
