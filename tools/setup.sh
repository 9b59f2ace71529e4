#!/usr/bin/env bash
# Prepares a Debian 12 machine for fmhost and builds it. Idempotent: installs
# only the Debian packages that are missing, resolves Flink's jars only when
# they are not cached, and rebuilds only what changed.
#   tools/setup.sh [--asan]     also build the sanitizer build in build-asan/
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

packages=(
  build-essential cmake pkg-config
  lua5.4 liblua5.4-dev lua-busted lua-cjson lua-filesystem lua-penlight
  libmariadb-dev libssl-dev libcurl4-openssl-dev libyaml-dev libjansson-dev libnats-dev libreadline-dev
  mariadb-server-core mariadb-client
  nats-server openssl procps chromium
  openjdk-17-jdk-headless maven
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

build() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DFMHOST_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)" >/dev/null
}
build build
if [ "${1:-}" = "--asan" ]; then
  build build-asan -DFMHOST_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
fi

# The JetStream connector for Flink (connector/, Java 17): rebuilt only when a
# source or the pom is newer than its jar; offline first (~/.m2), then online.
# Its JUnit tests are run by test.sh, not here.
connector_jar=connector/target/fmhost-nats-connector.jar
if [ -f connector/pom.xml ]; then
  if [ ! -f "$connector_jar" ] || [ -n "$(find connector/pom.xml connector/src -newer "$connector_jar" -print -quit)" ]; then
    echo "setup: building the JetStream connector (log: build/connector-build.log)"
    if ! mvn -B -q -o -f connector/pom.xml package -DskipTests >build/connector-build.log 2>&1; then
      mvn -B -q -f connector/pom.xml package -DskipTests >build/connector-build.log 2>&1 || {
        echo "setup: building the JetStream connector failed; see build/connector-build.log" >&2
        tail -n 20 build/connector-build.log >&2
        exit 1
      }
    fi
  fi
fi

# Flink's jars from Maven Central (cached in ~/.m2 and .fmhost/flink)
if [ -f scripts/fmhost/stack/flink.lua ]; then
  build/fmhost stack fetch flink
fi
echo "setup: fmhost built at $root/build/fmhost"
