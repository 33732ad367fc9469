#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-nats.sh: the NATS bridge against the bare nats.c client, in one run, on one nats-server
# (JetStream, file storage in a temporary directory, loopback).
#  - peer:   natspeer pub -> NATS -> natspeer sub (js_PublishAsync / pull consumer with acks, or
#            core publish/subscribe)
#  - bridge: ring -> shmring-nats out -> NATS -> shmring-nats in -> ring
# for 8, 64 and 1024-byte messages, JetStream and core, the bridge with and without --batch 64.
# Throughput: messages/s at the receiving end, first to last message, sending as fast as
# possible (core mode may lose messages then: counted in `lost`; BENCH_NATS_MSGS, default 200000;
# BENCH_NATS_CORE_MSGS in core mode, default 1000000; 1000000 with --batch). Latency: median and p99 of
# send-to-receive at a paced 2000 messages/s (BENCH_NATS_LAT_MSGS, default 4000).
# BENCH_NATS_REPS (default 1): throughput runs per cell, peer and bridges interleaved in each
# repetition; the table gives the median msg/s and the median of the per-repetition ratios
# bridge / peer (the machine is shared: single runs are noisy). JetStream also runs
# "peer+id": the bare client sending the same headers as the out-bridge (Nats-Msg-Id and
# Nats-Expected-Last-Msg-Id, natspeer --msgid 2), a baseline for the server's duplicate check;
# the "x peer" column is always against the plain peer. BENCH_NATS_BATCHES (default "1 64"): the
# bridge rows; BENCH_NATS_BRIDGE: another shmring-nats binary to measure (e.g. an older build).
# Writes bench/results/nats-<date>.md (a table) and nats-<date>.csv, and prints the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh cmake make gcc libcmocka-dev nats-server libnats-dev
B=${BUILD_DIR:-build-bench-nats}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DSHMRING_BENCH=OFF -DSHMRING_EXAMPLES=OFF >/dev/null
cmake --build "$B" -j2 --target shmring-nats natspeer nats_ringtool >/dev/null
BR=${BENCH_NATS_BRIDGE:-$B/bridge/nats/shmring-nats} PEER=$B/bridge/nats/natspeer RT=$B/tests/nats_ringtool
N=${BENCH_NATS_MSGS:-200000}
NC=${BENCH_NATS_CORE_MSGS:-1000000} # core runs 10x faster: 200000 messages last ~0.3 s, all noise
NB=${BENCH_NATS_BATCH_MSGS:-1000000}
NL=${BENCH_NATS_LAT_MSGS:-4000}
REPS=${BENCH_NATS_REPS:-1}
cmdline="$(env | grep -E '^BENCH_NATS_|^BUILD_DIR=' | sort | tr '\n' ' ')./scripts/bench-nats.sh"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
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

# peer MODE SIZE COUNT RATE [MSGID] -> "msgs_per_s p50 p99"
peer() {
  local mode=$1 size=$2 count=$3 rate=$4 msgid=${5:-0} js=() subj
  subj="peer.$k"
  [ "$mode" = js ] && js=(--js "PEER$k")
  "$PEER" sub "$URL" "$subj" "$count" "${js[@]}" >"$tmp/sub" 2>&1 &
  local sp=$!
  for _ in $(seq 200); do grep -q ready "$tmp/sub" && break; sleep 0.02; done
  "$PEER" pub "$URL" "$subj" "$count" "$size" "${js[@]}" --rate "$rate" --msgid "$msgid" >/dev/null
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
echo "case,mode,size,batch,msgs_per_s,p50_us,p99_us,lost,x_peer,reps" >"$csv"
row() { echo "$1,$2,$3,$4,$5,$6,$7,$8,$9,$REPS" >>"$csv"; printf '%-9s %-5s %5s B batch %-3s %10s msg/s  p50 %8s us  p99 %8s us  lost %-6s x peer %s\n' "$@"; }
# median of the arguments (numbers)
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{if(NR==0){print 0}else if(NR%2){print v[(NR+1)/2]}else{print (v[NR/2]+v[NR/2+1])/2}}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if(b>0) printf "%.3f", a/b; else print 0}'; }
for mode in ${BENCH_NATS_MODES:-js core}; do
  for size in ${BENCH_NATS_SIZES:-8 64 1024}; do
    cases=(peer); [ "$mode" = js ] && cases+=(peerid)
    for b in ${BENCH_NATS_BATCHES:-1 64}; do cases+=("bridge$b"); done
    declare -A tput=() rat=() lostc=()
    n1=$N; [ "$mode" = core ] && n1=$NC
    for _ in $(seq "$REPS"); do
      # k names the rings, subjects and streams of a run: set here, not in the $(...) subshells.
      for c in "${cases[@]}"; do
        k=$((k + 1))
        case $c in
          peer) read -r t _ _ lost <<<"$(peer $mode $size "$n1" 0)"; pt=$t ;;
          peerid) read -r t _ _ lost <<<"$(peer $mode $size "$N" 0 2)" ;;
          bridge1) read -r t _ _ lost <<<"$(bridge $mode $size "$n1" 0 1)" ;;
          bridge64) read -r t _ _ lost <<<"$(bridge $mode $size "$NB" 0 64)" ;;
        esac
        tput[$c]+=" ${t:-0}"; rat[$c]+=" $(ratio "${t:-0}" "${pt:-0}")"; lostc[$c]+=" ${lost:-0}"
      done
    done
    for c in "${cases[@]}"; do
      k=$((k + 1))
      case $c in
        peer) read -r _ l50 l99 _ <<<"$(peer $mode $size "$NL" 2000)"; name=peer batch=- ;;
        peerid) read -r _ l50 l99 _ <<<"$(peer $mode $size "$NL" 2000 2)"; name=peer+id batch=- ;;
        bridge1) read -r _ l50 l99 _ <<<"$(bridge $mode $size "$NL" 2000 1)"; name=bridge batch=1 ;;
        bridge64) read -r _ l50 l99 _ <<<"$(bridge $mode $size "$NL" 2000 64)"; name=bridge batch=64 ;;
      esac
      # shellcheck disable=SC2086
      row $name $mode $size $batch "$(median ${tput[$c]})" "$l50" "$l99" "$(median ${lostc[$c]})" \
        "$(median ${rat[$c]})"
    done
  done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$csv" "$out" "$(nproc)" "$(nats-server --version)" "$REPS" "$load0" "$load1" "$cmdline" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
reps, load0, load1, cmd = sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8]
with open(sys.argv[2], "w") as f:
    f.write("# NATS bridge vs the bare nats.c client\n\n")
    f.write(f"One nats-server ({sys.argv[4]}, JetStream file storage) on loopback, {sys.argv[3]} CPUs, "
            "all processes on the same machine. Throughput at the receiving end, sending as fast as possible; "
            "latency send-to-receive at a paced 2000 msg/s. Produced by scripts/bench-nats.sh.\n\n")
    f.write(f"Command: `{cmd}`. {reps} throughput run(s) per row, peer and bridges interleaved: msg/s is the "
            "median, x peer the median of the per-run ratios to the plain peer of the same run. "
            "peer+id: the bare client with the out-bridge's headers (Nats-Msg-Id, Nats-Expected-Last-Msg-Id). "
            f"Load average (1/5/15 min) at the start: {load0}, at the end: {load1}.\n\n")
    f.write("| mode | size | path | batch | msg/s | x peer | p50 us | p99 us | lost (core) |\n|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        mode = "JetStream" if r["mode"] == "js" else "core"
        ratio = "1.00" if r["case"] == "peer" else f'{float(r["x_peer"] or 0):.2f}'
        f.write(f'| {mode} | {r["size"]} B | {r["case"]} | {r["batch"]} | {float(r["msgs_per_s"] or 0):,.0f} | {ratio} | {r["p50_us"]} | {r["p99_us"]} | {r["lost"]} |\n')
print("\n".join(open(sys.argv[2]).read().splitlines()[6:]))
PY
echo "written: $out $csv"
