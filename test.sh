#!/usr/bin/env bash
# The test command: on a fresh Debian 12 machine it installs what is missing,
# builds fmhost (and its sanitizer build), starts the private stack, runs
# every spec, stops the stack it started, and ends with one line
#   N passed, N failed[, N skipped]
# exiting non-zero when anything failed. Extra arguments go to the main run.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"
tools/setup.sh --asan || { echo "0 passed, 1 failed"; exit 1; }
mkdir -p build
rm -rf build/report/pipelines   # this run's pipelines only, in the report

passed=0 failed=0 skipped=0 status=0
tally() { # the log file of one run
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
  if [ -z "$line" ]; then failed=$((failed + 1)); return; fi
  local p f s
  p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
  s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
}

# The property specs need MariaDB only. They run beside the scenarios against
# a second private MariaDB of their own (stack.dir .fmhost/props, the first
# free port from mysql.port + 10), so that the two halves overlap: the
# scenarios mostly wait on Flink, the properties on MariaDB restarts.
props_dir="$root/.fmhost/props"
props_env() { FMHOST_STACK_DIR="$props_dir" FMHOST_MYSQL_PORT="$props_port" FMHOST_MYSQL_SOCKET= "$@"; }
props_port=
started_stack=0 started_props=0 props_pid=
stop_stack() {
  if [ -n "$props_pid" ]; then # the background run (a subshell) and its fmhost
    pkill -TERM -P "$props_pid" 2>/dev/null; kill -- "$props_pid" 2>/dev/null; wait "$props_pid" 2>/dev/null; props_pid=
  fi
  if [ "$started_props" = 1 ]; then props_env build/fmhost stack down mariadb >build/stack-down-props.log 2>&1; started_props=0; fi
  if [ "$started_stack" = 1 ]; then build/fmhost stack down >build/stack-down.log 2>&1; started_stack=0; fi
}
trap stop_stack EXIT INT TERM

echo "== unit specs under AddressSanitizer/UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  FMHOST_BIN="$root/build-asan/fmhost" build-asan/fmhost specs/unit --junit build/junit-unit.xml -o plainTerminal 2>&1 \
  | tee build/asan.log
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' build/asan.log; then
  echo "sanitizer reported a problem (build/asan.log)"; failed=$((failed + 1)); status=1
fi
tally build/asan.log

echo "== JetStream connector: JUnit tests (Maven; each test class starts its own nats-server)"
# offline first (~/.m2 holds what setup resolved), online when something is missing; the
# surefire totals become a "N passed, N failed" line for the tally
if ! mvn -B -o -f connector/pom.xml test >build/connector-test.log 2>&1 \
    && grep -q 'in offline mode' build/connector-test.log; then
  mvn -B -f connector/pom.xml test >build/connector-test.log 2>&1
fi
java_line=$(grep -E '^\[(INFO|WARNING|ERROR)\] Tests run: [0-9]+, Failures: [0-9]+, Errors: [0-9]+, Skipped: [0-9]+$' \
  build/connector-test.log | tail -n 1)
if [ -n "$java_line" ]; then
  read -r jrun jfail jerr jskip < <(sed -E 's/.*Tests run: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+), Skipped: ([0-9]+)/\1 \2 \3 \4/' <<<"$java_line")
  grep -E 'Tests run:|FAIL|ERROR\]' build/connector-test.log | grep -v '^\[INFO\] Tests run: [0-9]*, Failures: 0, Errors: 0' | head -n 40
  jline="$((jrun - jfail - jerr - jskip)) passed, $((jfail + jerr)) failed"
  [ "$jskip" -eq 0 ] || jline="$jline, $jskip skipped"
  echo "$jline" | tee build/connector-tally.log
  tally build/connector-tally.log
  [ $((jfail + jerr)) -eq 0 ] || status=1
else
  echo "the connector's tests did not run (build/connector-test.log):"; tail -n 30 build/connector-test.log
  failed=$((failed + 1)); status=1
fi

echo "== private stack"
if build/fmhost stack status >/dev/null 2>&1; then
  echo "stack already running; leaving it as it is"
else
  started_stack=1
  build/fmhost stack up || { echo "stack did not start"; failed=$((failed + 1)); status=1; }
fi

echo "== the properties' MariaDB"
props_port=$(build/fmhost -e '
  local proc = require "fmhost.proc"
  for p = cfg.mysql.port + 10, cfg.mysql.port + 200 do
    if p <= 65535 and proc.port_free(p) then print(p) return end
  end')
rm -f build/props.log build/junit-props.xml
if [ -z "$props_port" ]; then
  echo "no free port from mysql.port + 10 for the properties' MariaDB"; failed=$((failed + 1)); status=1
else
  started_props=1
  if props_env build/fmhost stack up mariadb; then
    echo "== properties (beside the scenarios, on 127.0.0.1:$props_port; their output follows the scenarios')"
    props_env env FMHOST_BIN="$root/build/fmhost" build/fmhost specs/properties --junit build/junit-props.xml \
      -o plainTerminal "$@" >build/props.log 2>&1 &
    props_pid=$!
  else
    echo "the properties' MariaDB did not start"; failed=$((failed + 1)); status=1
  fi
fi

echo "== scenarios (the unit specs ran above, under the sanitizers)"
FMHOST_BIN="$root/build/fmhost" build/fmhost specs/scenarios --junit build/junit-stack.xml \
  -o plainTerminal "$@" 2>&1 | tee build/specs.log
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
tally build/specs.log

if [ -n "$props_pid" ]; then
  wait "$props_pid"; props_rc=$?; props_pid=
  echo "== properties (ran beside the scenarios)"
  cat build/props.log
  [ "$props_rc" -eq 0 ] || status=1
  tally build/props.log
fi
# one JUnit file for the whole run: the unit specs', the properties' and the scenarios'
# (the parts that ran: a part that did not is counted as failed above)
build/fmhost -e 'local parts = {}
  for _, f in ipairs { "build/junit-unit.xml", "build/junit-props.xml", "build/junit-stack.xml" } do
    local h = io.open(f) if h then h:close() parts[#parts + 1] = f end
  end
  assert(require("fmhost.report").merge_junit("build/junit.xml", parts))' \
  || echo "build/junit.xml could not be written"

stop_stack

echo "== report"
if build/fmhost -e 'local h, j = assert(require("fmhost.htmlreport").from_run{}); print("report: " .. h .. " (data: " .. j .. ")")'; then :
else echo "the report could not be written"; fi

[ "$failed" -eq 0 ] || status=1
line="$passed passed, $failed failed"
[ "$skipped" -eq 0 ] || line="$line, $skipped skipped"
echo
echo "$line"
exit $status
