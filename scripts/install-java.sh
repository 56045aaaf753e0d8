#!/usr/bin/env bash
# A Java runtime for Spark (`make test-spark`): Debian's OpenJDK 17, unless a java is already there.
set -euo pipefail
if command -v java >/dev/null && java -version 2>&1 | grep -q 'version "\(1[7-9]\|2[0-9]\)'; then
  exit 0
fi
echo "installing openjdk-17-jre-headless (Debian) for Spark"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless
