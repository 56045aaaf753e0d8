#!/usr/bin/env bash
# Stop the daemons started by scripts/rgw/start.sh, by the PIDs in their pid files: rgw, then the
# OSD, then the mon (each waited for; stopping the mon first makes the OSD wait ~5 s for an ack).
B=${RGW_BASE:-${TMPDIR:-/tmp}/eventlog-rgw}
for f in "$B"/run/client.rgw.a.pid "$B"/run/osd.*.pid "$B"/run/mon.a.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; fi
  echo "stopped $(basename "$f" .pid) (pid $pid)"
done
exit 0
