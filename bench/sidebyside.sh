#!/usr/bin/env bash
# sidebyside.sh — Conclave, Galène, LiveKit and stock Pion under the same sfuload, in
# rounds: on each shape the servers run back to back, each pinned to core 0 and
# restarted per run, the generator on core 1 (bench/README.md, "Side by side with
# Galène and LiveKit"). Loopback only; every run is bounded by `timeout`.
#
#   bench/sidebyside.sh                                  # the README's two rounds
#   SERVERS="conclave galene" SHAPES="1:99 10:0" ROUNDS=1 bench/sidebyside.sh
#
# SHAPES are P:N[:LATE] (P publishers, N receive-only subscribers, LATE late joiners);
# P > 1 is all-to-all. XARGS adds sfuload flags to every run (e.g. "--fps 1 --bitrate 8000").
# Binaries (none is built here except Conclave's when CONCLAVE_BIN is unset; build them all
# with CGO_ENABLED=0, as bench/README.md does, so that none pays glibc's share and another not):
#   SFULOAD       sfuload (go build in ../shared/bench/sfuload)
#   PIONSFU       its stock-Pion reference (go build ./cmd/pionsfu there)
#   GALENE_BIN    Galène with loopback candidates (README: one line added)
#   LIVEKIT_BIN   livekit-server v1.13.5
# Each run's JSON goes to $OUT/<round>-<server>-<P>-<N>.json, a table to stdout.
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
SERVERS=${SERVERS:-"conclave galene livekit pionref"}
SHAPES=${SHAPES:-"1:10 1:50 1:50:8 1:99 1:200 10:0"}
ROUNDS=${ROUNDS:-2}
WARM=${WARM:-5s}
DUR=${DUR:-15s}
XARGS=${XARGS:-}
OUT=${OUT:-$(mktemp -d /tmp/sidebyside.XXXX)}
SFULOAD=${SFULOAD:-/tmp/sfuload-run/bin/sfuload}
PIONSFU=${PIONSFU:-/tmp/sfuload-run/bin/pionsfu}
GALENE_BIN=${GALENE_BIN:-/tmp/galene-bin/galene}
LIVEKIT_BIN=${LIVEKIT_BIN:-/tmp/livekit-bin/livekit-server}
LK_SECRET=sfuload-secret-0123456789abcdef0123456789
mkdir -p "$OUT"

if [[ -z "${CONCLAVE_BIN:-}" ]]; then
	CONCLAVE_BIN=$OUT/conclave
	# Static, as the README builds it for a server (and as the others are built below).
	(cd "$HERE" && CGO_ENABLED=0 go build -o "$CONCLAVE_BIN" ./cmd/conclave)
fi
[[ -x "$SFULOAD" ]] || { echo "no sfuload at $SFULOAD (set SFULOAD)" >&2; exit 1; }

PID=""
stop() {
	[[ -n "$PID" ]] || return 0
	kill "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	PID=""
}
trap stop EXIT
trap 'stop; exit 130' INT TERM

# start SERVER DIR: starts the server on core 0, sets PID and URL.
start() {
	local s=$1 d=$2
	case "$s" in
	conclave)
		local key
		key=$("$CONCLAVE_BIN" host -data "$d/data" add sfuload | awk '/^  [0-9a-f]+\./{print $1}')
		# 200 subscribers and a publisher are 201 websockets from 127.0.0.1.
		taskset -c 0 "$CONCLAVE_BIN" -http 127.0.0.1:8081 -media-udp 127.0.0.1:10001 -media-tcp "" \
			-loopback -config "" -data "$d/data" -max-participants 250 -max-conns-per-addr 400 >"$d/server.log" 2>&1 &
		PID=$!
		URL="ws://127.0.0.1:8081/ws?hostkey=$key"
		;;
	galene)
		mkdir -p "$d/data" "$d/groups" "$d/static"
		echo '{"wildcard-user":{"password":{"type":"wildcard"},"permissions":"present"}}' >"$d/groups/bench.json"
		taskset -c 0 "$GALENE_BIN" -insecure -http 127.0.0.1:8443 -data "$d/data" -groups "$d/groups" \
			-static "$d/static" -recordings "$d/rec" -turn "" >"$d/server.log" 2>&1 &
		PID=$!
		URL=ws://127.0.0.1:8443/ws
		;;
	livekit)
		cat >"$d/livekit.yaml" <<YAML
port: 7880
bind_addresses: [127.0.0.1]
rtc:
  node_ip: 127.0.0.1
  enable_loopback_candidate: true
  use_external_ip: false
  udp_port: 7882
  tcp_port: 0
  interfaces:
    includes: [lo]
keys:
  devkey: $LK_SECRET
logging:
  level: warn
YAML
		taskset -c 0 "$LIVEKIT_BIN" --config "$d/livekit.yaml" >"$d/server.log" 2>&1 &
		PID=$!
		URL="ws://127.0.0.1:7880?key=devkey&secret=$LK_SECRET"
		;;
	pionref)
		taskset -c 0 "$PIONSFU" -http 127.0.0.1:8091 >"$d/server.log" 2>&1 &
		PID=$!
		URL=http://127.0.0.1:8091
		;;
	*)
		echo "unknown server $s" >&2
		return 1
		;;
	esac
	sleep 2 # its start-up CPU stays out of the window anyway
}

for round in $(seq "$ROUNDS"); do
	for shape in $SHAPES; do
		IFS=: read -r p n late <<<"$shape"
		for s in $SERVERS; do
			d=$(mktemp -d "$OUT/run.XXXX")
			start "$s" "$d"
			extra=()
			[[ -n "${late:-}" && "$late" != 0 ]] && extra+=(--late-join "$late")
			# shellcheck disable=SC2086 # XARGS is a list of flags
			timeout 300 taskset -c 1 "$SFULOAD" run --adapter "$s" --url "$URL" --publishers "$p" \
				--subscribers "$n" "${extra[@]}" $XARGS --warmup "$WARM" --duration "$DUR" \
				--server-pid "$PID" --json --label "$s" >"$OUT/r$round-$s-$p-$n${late:+-$late}.json" \
				2>"$d/sfuload.err" || echo "r$round $s $shape: sfuload failed, see $d" >&2
			stop
		done
	done
done

echo "round server shape µs/pkt p99ms KB/sub loss% join-key-p95ms late-key-p50ms other%"
for f in "$OUT"/r*.json; do
	[[ -s "$f" ]] || continue
	python3 - "$f" <<'PY'
import json, os, sys
f = sys.argv[1]
d = json.load(open(f))
name = os.path.basename(f)[:-5].split('-')
j, lj = d.get('join') or {}, d.get('late_join') or {}
print(name[0], name[1], ':'.join(name[2:]), '%.2f' % d['server_cpu_us_per_pkt'], '%.1f' % d['lat_p99_ms'],
      '%.0f' % d['rss_per_sub_kb'], '%.3f' % d['loss_pct'], '%.0f' % j.get('key_p95_ms', -1),
      '%.1f' % lj.get('key_p50_ms', -1), '%.1f' % d['other_cpu_pct'])
PY
done
echo "results: $OUT" >&2
