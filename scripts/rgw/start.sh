#!/usr/bin/env bash
# Start a single-node, loopback-only Ceph (1 mon + 1 memstore OSD, no mgr) and its S3 gateway (radosgw).
# Adapted from /work/shared/s3/start_ceph_rgw.sh. Needs root and the Debian packages
# `radosgw ceph-mon ceph-osd` (scripts/test-integration.sh installs them). Starts in ~17 s.
#
#   RGW_BASE   state directory             (default ${TMPDIR:-/tmp}/eventlog-rgw)
#   RGW_PORT   S3 endpoint port            (default 7480)
#   MON_PORT   monitor port                (default 6789)
#
# Prints the endpoint; writes $RGW_BASE/env (RGW_ENDPOINT, keys) for the tests. Stop with stop.sh.
set -euo pipefail
B=${RGW_BASE:-${TMPDIR:-/tmp}/eventlog-rgw}
RGW_PORT=${RGW_PORT:-7480}
MON_PORT=${MON_PORT:-6789}
if ss -ltn | grep -qE "127.0.0.1:($MON_PORT|$RGW_PORT) "; then
  echo "rgw/start.sh: port $MON_PORT or $RGW_PORT is busy (another Ceph running? try scripts/rgw/stop.sh)" >&2
  exit 1
fi
rm -rf "$B"; mkdir -p "$B"/{mon,osd,rgw,run,log}
FSID=$(python3 -c 'import uuid; print(uuid.uuid4())')
CONF=$B/ceph.conf
cat > "$CONF" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $B/keyring
run dir = $B/run
admin socket = $B/run/\$name.asok
log file = $B/log/\$name.log
pid file = $B/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
osd crush chooseleaf type = 0
[mon]
mon data = $B/mon/\$name
mon warn on pool no redundancy = false
[osd]
osd data = $B/osd/\$name
keyring = $B/osd/\$name/keyring
osd objectstore = memstore
memstore device bytes = 2147483648
osd max object name len = 460
osd max object namespace len = 64
[client.rgw.a]
keyring = $B/rgw/keyring
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $B/rgw
rgw dns name = 127.0.0.1
CONF
# Pitfalls (S3-NOTES §1): --mkfs needs --no-mon-config; the OSD and rgw need their own keyrings;
# without `cluster addr` the OSD binds 0.0.0.0; one OSD needs pool size 1 and small pg counts.
ceph-authtool --create-keyring "$B/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$B/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
monmaptool --create --add a "127.0.0.1:$MON_PORT" --fsid "$FSID" "$B/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$B/monmap" --keyring "$B/keyring"
ceph-mon -c "$CONF" -i a            # daemonizes; pid in $B/run/mon.a.pid
for _ in $(seq 50); do ceph -c "$CONF" -s >/dev/null 2>&1 && break; sleep 0.2; done
OSD_ID=$(ceph -c "$CONF" osd create)
mkdir -p "$B/osd/osd.$OSD_ID"
ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --mkkey --no-mon-config 2>/dev/null
ceph -c "$CONF" auth add "osd.$OSD_ID" osd 'allow *' mon 'allow profile osd' -i "$B/osd/osd.$OSD_ID/keyring" >/dev/null
ceph -c "$CONF" osd crush add-bucket localhost host >/dev/null
ceph -c "$CONF" osd crush move localhost root=default >/dev/null
ceph -c "$CONF" osd crush add "osd.$OSD_ID" 1.0 host=localhost >/dev/null
ceph-osd -c "$CONF" -i "$OSD_ID"    # daemonizes; pid in $B/run/osd.N.pid
for _ in $(seq 100); do ceph -c "$CONF" osd stat 2>/dev/null | grep -q "1 up" && break; sleep 0.2; done
ceph -c "$CONF" auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' > "$B/rgw/keyring"
radosgw -c "$CONF" -n client.rgw.a  # daemonizes; pid in $B/run/client.rgw.a.pid
for _ in $(seq 150); do curl -s -o /dev/null "http://127.0.0.1:$RGW_PORT/" && break; sleep 0.2; done
radosgw-admin -c "$CONF" user create --uid=testing --display-name=testing --access-key=testing --secret-key=testing >/dev/null
curl -s -o /dev/null "http://127.0.0.1:$RGW_PORT/" || { echo "rgw/start.sh: radosgw did not come up; see $B/log" >&2; exit 1; }
cat > "$B/env" <<ENV
RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT
RGW_ACCESS_KEY=testing
RGW_SECRET_KEY=testing
ENV
echo "rgw up: http://127.0.0.1:$RGW_PORT (access key 'testing' / secret 'testing'); daemon PIDs: $(cat "$B"/run/*.pid | tr '\n' ' ')"
