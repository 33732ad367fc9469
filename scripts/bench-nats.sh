#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-nats.sh: the NATS bridge against the bare nats.c client, in one run, on one nats-server
# (JetStream, file storage in a temporary directory, loopback).
#  - peer:   natspeer pub -> NATS -> natspeer sub (js_PublishAsync / pull consumer with acks, or
#            core publish/subscribe)
#  - bridge: ring -> shmring-nats out -> NATS -> shmring-nats in -> ring
# for 8, 64 and 1024-byte messages, JetStream and core, the bridge with and without --batch 64.
# Throughput: messages/s at the receiving end, first to last message, sending as fast as
# possible (core mode may lose messages then: counted in `lost`; BENCH_NATS_MSGS, default 200000; 1000000 with --batch). Latency: median and p99 of
# send-to-receive at a paced 2000 messages/s (BENCH_NATS_LAT_MSGS, default 4000).
# Writes bench/results/nats-<date>.md (a table) and nats-<date>.csv, and prints the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh cmake make gcc libcmocka-dev nats-server libnats-dev
B=${BUILD_DIR:-build-bench-nats}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DSHMRING_BENCH=OFF -DSHMRING_EXAMPLES=OFF >/dev/null
cmake --build "$B" -j2 --target shmring-nats natspeer nats_ringtool >/dev/null
BR=$B/bridge/nats/shmring-nats PEER=$B/bridge/nats/natspeer RT=$B/tests/nats_ringtool
N=${BENCH_NATS_MSGS:-200000}
NB=${BENCH_NATS_BATCH_MSGS:-1000000}
NL=${BENCH_NATS_LAT_MSGS:-4000}
tmp=$(mktemp -d /tmp/bench-nats.XXXXXX)
pre="bn$$"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -f /dev/shm/"$pre"-*; [ -n "${BENCH_NATS_KEEP:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=nats://127.0.0.1:$port
nats-server -js -sd "$tmp/js" -a 127.0.0.1 -p "$port" >"$tmp/server.log" 2>&1 &
pids+=($!)
sleep 0.5
k=0
field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p" <<<"$2"; }

# peer MODE SIZE COUNT RATE -> "msgs_per_s p50 p99"
peer() {
  local mode=$1 size=$2 count=$3 rate=$4 js=() subj
  subj="peer.$k"
  [ "$mode" = js ] && js=(--js "PEER$k")
  "$PEER" sub "$URL" "$subj" "$count" "${js[@]}" >"$tmp/sub" 2>&1 &
  local sp=$!
  for _ in $(seq 200); do grep -q ready "$tmp/sub" && break; sleep 0.02; done
  "$PEER" pub "$URL" "$subj" "$count" "$size" "${js[@]}" --rate "$rate" >/dev/null
  wait "$sp" || true
  local line; line=$(tail -1 "$tmp/sub")
  echo "$(field msgs_per_s "$line") $(field p50_us "$line") $(field p99_us "$line") $(field lost "$line")"
}

# bridge MODE SIZE COUNT RATE BATCH -> "msgs_per_s p50 p99"
bridge() {
  local mode=$1 size=$2 count=$3 rate=$4 batch=$5 core=()
  [ "$mode" = core ] && core=(--core)
  local src="$pre-s$k" dst="$pre-d$k" subj="br.$k"
  "$RT" bcheck "$dst" "$count" >"$tmp/chk" 2>&1 &
  local cp=$!
  sleep 0.2
  "$BR" in "${core[@]}" --server "$URL" --subject "$subj" --durable "d$k" "$dst" -q 2>>"$tmp/in.log" &
  local ip=$!; pids+=($ip)
  "$BR" out "${core[@]}" "$src" --server "$URL" --subject "$subj" --batch "$batch" -q 2>>"$tmp/out.log" &
  local op=$!; pids+=($op)
  sleep 0.5
  "$RT" bgen "$src" "$count" "$size" --rate "$rate"
  wait "$cp" || { cat "$tmp/chk" >&2; }
  kill "$ip" "$op" 2>/dev/null; wait "$ip" "$op" 2>/dev/null || true
  local line; line=$(cat "$tmp/chk")
  echo "$(field msgs_per_s "$line") $(field p50_us "$line") $(field p99_us "$line") $(field lost "$line")"
}

date=$(date +%Y-%m-%d)
out=bench/results/nats-$date.md csv=bench/results/nats-$date.csv
mkdir -p bench/results
echo "case,mode,size,batch,msgs_per_s,p50_us,p99_us,lost" >"$csv"
row() { echo "$1,$2,$3,$4,$5,$6,$7,$8" >>"$csv"; printf '%-7s %-5s %5s B batch %-3s %10s msg/s  p50 %8s us  p99 %8s us  lost %s\n' "$@"; }
for mode in ${BENCH_NATS_MODES:-js core}; do
  for size in ${BENCH_NATS_SIZES:-8 64 1024}; do
    # k names the rings, subjects and streams of a run: set here, not in the $(...) subshells.
    k=$((k + 1)); read -r t _ _ lost <<<"$(peer $mode $size "$N" 0)"
    k=$((k + 1)); read -r _ l50 l99 _ <<<"$(peer $mode $size "$NL" 2000)"
    row peer $mode $size - "$t" "$l50" "$l99" "$lost"
    for batch in 1 64; do
      n=$N; [ "$batch" = 64 ] && n=$NB
      k=$((k + 1)); read -r t _ _ lost <<<"$(bridge $mode $size "$n" 0 $batch)"
      k=$((k + 1)); read -r _ l50 l99 _ <<<"$(bridge $mode $size "$NL" 2000 $batch)"
      row bridge $mode $size $batch "$t" "$l50" "$l99" "$lost"
    done
  done
done
python3 - "$csv" "$out" "$(nproc)" "$(nats-server --version)" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
peer = {(r["mode"], r["size"]): float(r["msgs_per_s"] or 0) for r in rows if r["case"] == "peer"}
with open(sys.argv[2], "w") as f:
    f.write("# NATS bridge vs the bare nats.c client\n\n")
    f.write(f"One nats-server ({sys.argv[4]}, JetStream file storage) on loopback, {sys.argv[3]} CPUs, "
            "all processes on the same machine. Throughput at the receiving end, sending as fast as possible; "
            "latency send-to-receive at a paced 2000 msg/s. Produced by scripts/bench-nats.sh.\n\n")
    f.write("| mode | size | path | batch | msg/s | x peer | p50 us | p99 us | lost (core) |\n|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        p = peer.get((r["mode"], r["size"]), 0)
        ratio = f'{float(r["msgs_per_s"] or 0) / p:.2f}' if p else "-"
        mode = "JetStream" if r["mode"] == "js" else "core"
        f.write(f'| {mode} | {r["size"]} B | {r["case"]} | {r["batch"]} | {float(r["msgs_per_s"] or 0):,.0f} | {ratio} | {r["p50_us"]} | {r["p99_us"]} | {r["lost"]} |\n')
print("\n".join(open(sys.argv[2]).read().splitlines()[4:]))
PY
echo "written: $out $csv"
