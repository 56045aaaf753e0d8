#!/usr/bin/env bash
# `make test-integration`: install Ceph's S3 gateway if missing, start it on 127.0.0.1, run the
# integration tests (pytest -m integration) against it, and always stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v radosgw >/dev/null || ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null; then
  echo "installing radosgw ceph-mon ceph-osd (Debian packages, ~65 with dependencies)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd
fi
export RGW_BASE=${RGW_BASE:-${TMPDIR:-/tmp}/eventlog-rgw}
trap 'bash scripts/rgw/stop.sh' EXIT
bash scripts/rgw/start.sh
set -a; . "$RGW_BASE/env"; set +a
.venv/bin/python -m pytest -q -p no:cacheprovider -m integration tests/integration "$@"
