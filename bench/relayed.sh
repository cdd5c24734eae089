#!/bin/bash
# relayed.sh BIN MODE N OUTDIR — one sfuload run of Conclave (BIN) with one publisher
# and N receive-only subscribers that reach the server only through its embedded TURN
# server over MODE (udp|tcp|tls), over ICE-TCP to its media TCP port (icetcp), or
# directly over UDP (none); the figures of bench/README.md's "Relays that write to their
# clients themselves" and of its last section. Server pinned to core 0 and
# restarted per run, generator on core 1; loopback only, bounded by `timeout`.
#
# The generator is the shared sfuload with bench/sfuload-turn.patch (its Conclave
# adapter makes the subscribe connections of receive-only subscribers relay-only
# through the welcome's TURN URLs of MODE when SFULOAD_TURN is set, and gives them ICE
# over TCP only when SFULOAD_ICETCP=1):
#   P=$PWD/bench/sfuload-turn.patch; mkdir -p /tmp/sfuload-turn &&
#   cp -r ../shared/bench/sfuload /tmp/sfuload-turn/ && chmod -R u+w /tmp/sfuload-turn &&
#   (cd /tmp/sfuload-turn && patch -p0 < "$P") &&
#   (cd /tmp/sfuload-turn/sfuload && go build -o /tmp/sfuload-turn/bin/sfuload .)
# TLS: a certificate for 127.0.0.1 in $TLSDIR/{cert.pem,key.pem} (e.g. openssl req
# -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=127.0.0.1
# -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem); the generator
# trusts it through SSL_CERT_FILE.
#   PERF=1: also `perf record` the server for 8 s from about 8 s into the run.
#   PUBLISHERS=P: P publishers (P > 1: all-to-all, N may be 0); with SFULOAD_TURN_ALL=1
#   the publishers are relayed too (both their connections).
# Env: SFULOAD (default /tmp/sfuload-turn/bin/sfuload), TLSDIR (default /tmp/tlsprobe).
set -u
BIN=${1:?BIN}; MODE=${2:?MODE udp|tcp|tls|none}; N=${3:?N}; OUT=${4:?OUTDIR}
SFULOAD=${SFULOAD:-/tmp/sfuload-turn/bin/sfuload}
TLSDIR=${TLSDIR:-/tmp/tlsprobe}
HTTP=127.0.0.1:8081 METRICS=127.0.0.1:9465
mkdir -p "$OUT"
D=$(mktemp -d /tmp/runturn.XXXXXX)
PID= PERFPID= GENPID=
cleanup() {
	[ -n "$PERFPID" ] && kill "$PERFPID" 2>/dev/null
	[ -n "$GENPID" ] && kill "$GENPID" 2>/dev/null
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill "$PID"; for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$PID" 2>/dev/null
	fi
	wait 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case $MODE in
udp) TURN=(-turn-udp 127.0.0.1:3478) ;;
tcp) TURN=(-turn-tcp 127.0.0.1:3478) ;;
tls)
	[ -s "$TLSDIR/cert.pem" ] || { echo "no $TLSDIR/cert.pem" >&2; exit 1; }
	TURN=(-turn-tls 127.0.0.1:5349 -turn-cert "$TLSDIR/cert.pem" -turn-key "$TLSDIR/key.pem") ;;
none | icetcp) TURN=() ;;
*) echo "MODE must be udp, tcp, tls, icetcp or none" >&2; exit 1 ;;
esac
MEDIATCP=""
[ "$MODE" = icetcp ] && MEDIATCP=127.0.0.1:10002

# host key for the bench meeting (hosts live in -data)
KEY=$("$BIN" host -data "$D/data" add sfuload 2>&1 | sed -n 's/^ \{1,\}\([0-9a-f]\{1,\}\.[A-Za-z0-9_-]\{1,\}\)$/\1/p' | head -1)
[ -n "$KEY" ] || { echo "could not make a host key" >&2; exit 1; }

taskset -c 0 "$BIN" -http $HTTP -media-udp 127.0.0.1:10001 -media-tcp "$MEDIATCP" -loopback -config "" \
	-data "$D/data" -metrics $METRICS -max-participants 300 -max-conns-per-addr 400 "${TURN[@]}" \
	>"$OUT/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
	curl -sf -o /dev/null "http://$METRICS/healthz" && break
	kill -0 $PID 2>/dev/null || { echo "server exited:" >&2; tail "$OUT/server.log" >&2; exit 1; }
	sleep 0.1
done

if [ "${PERF:-0}" = 1 ]; then
	if ! command -v perf >/dev/null; then
		apt-get install -y linux-perf >/dev/null 2>&1 || echo "perf unavailable: skipping" >&2
	fi
	if command -v perf >/dev/null; then
		( sleep 8; exec perf record -F 5000 -g -p $PID -o "$OUT/perf.data" -- sleep 8 ) >"$OUT/perf.log" 2>&1 &
		PERFPID=$!
	fi
fi

ENV=(env -u SFULOAD_TURN -u SFULOAD_ICETCP)
case $MODE in
udp | tcp | tls) ENV=(env -u SFULOAD_ICETCP SFULOAD_TURN=$MODE SSL_CERT_FILE="$TLSDIR/cert.pem") ;;
icetcp) ENV=(env -u SFULOAD_TURN SFULOAD_ICETCP=1) ;;
esac
"${ENV[@]}" timeout -k 5 150 taskset -c 1 "$SFULOAD" run --adapter conclave --url "ws://$HTTP/ws?hostkey=$KEY" \
	--publishers "${PUBLISHERS:-1}" --subscribers "$N" --warmup 5s --duration 15s --server-pid $PID --json \
	>"$OUT/result.json" 2>"$OUT/sfuload.log" &
GENPID=$!
wait $GENPID; RC=$?; GENPID=
[ -n "$PERFPID" ] && { wait $PERFPID; PERFPID=; }

curl -sf "http://$METRICS/metrics" >"$OUT/metrics.txt" || echo "metrics unreadable" >&2
m() { awk -v k="$1" '$1==k {print $2}' "$OUT/metrics.txt"; }
echo "mode=$MODE N=$N sfuload_rc=$RC out=$OUT"
if [ -s "$OUT/result.json" ]; then
	jq -r '"us_per_pkt=\(.server_cpu_us_per_pkt|.*100|round/100) p99_ms=\(.lat_p99_ms) p50_ms=\(.lat_p50_ms) rss_per_sub_kb=\(.rss_per_sub_kb|round) loss_pct=\(.loss_pct) fwd_pps=\(.fwd_pps|round) ready=\(.ready_pairs)/\(.expected_pairs) server_cpu_pct=\(.server_cpu_pct|round) other_cpu_pct=\(.other_cpu_pct|round) gen_cpu_pct=\(.gen_cpu_pct|round) contaminated=\(.contaminated // false) errors=\(.errors // [] | length)"' "$OUT/result.json"
else
	echo "no result (see $OUT/sfuload.log)"; tail -5 "$OUT/sfuload.log"
fi
echo "datagrams_to_relays=$(m conclave_datagrams_to_relays_total) packets_forwarded=$(m conclave_packets_forwarded_total)"
if [ "$MODE" != none ]; then
	echo "subscriber paths (TURNPATH lines): $(grep -o 'TURNPATH .*' "$OUT/sfuload.log" | awk '{print $3, $4}' | sort | uniq -c | tr -s ' ' | paste -sd';')"
fi
[ -s "$OUT/perf.data" ] && echo "perf: $OUT/perf.data"
exit $RC
