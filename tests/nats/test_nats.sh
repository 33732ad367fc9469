#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end tests of shmring-nats with real nats-server processes on loopback (JetStream on,
# file storage in a temporary directory, free ports). One case per run:
#   test_nats.sh roundtrip|kill_out|kill_in|kill_server|cluster|behaviours|core
# Environment: BRIDGE, RINGTOOL (paths; set by CTest), and the counts, scaled for CI:
#   NATS_TEST_MSGS (1000000, the round trip with --batch 64), NATS_TEST_MSGS_NOBATCH (100000),
#   NATS_TEST_KILL_MSGS (60000), NATS_TEST_KILL_ROUNDS (20), NATS_TEST_SERVER_ROUNDS (3).
# Every received message is checked by nats_ringtool check: exactly once, in order, its length
# and checksum. Exit 77 when nats-server or the programs are missing.
set -uo pipefail
case_name=${1:?case}
command -v nats-server >/dev/null || { echo "SKIP: nats-server not installed (apt-get install nats-server)"; exit 77; }
[ -x "${BRIDGE:-}" ] && [ -x "${RINGTOOL:-}" ] || { echo "SKIP: BRIDGE and RINGTOOL must name the built programs"; exit 77; }

MSGS=${NATS_TEST_MSGS:-1000000}
MSGS_NOBATCH=${NATS_TEST_MSGS_NOBATCH:-100000}
KILL_MSGS=${NATS_TEST_KILL_MSGS:-60000}
KILL_ROUNDS=${NATS_TEST_KILL_ROUNDS:-20}
SERVER_ROUNDS=${NATS_TEST_SERVER_ROUNDS:-3}

tmp=$(mktemp -d /tmp/shmring-nats-test.XXXXXX)
pre="tn$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -f /dev/shm/"$pre"-* 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -25 "$f"; }; done; exit 1; }
note() { echo "[$(date +%T)] $*"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start_server NAME PORT [extra args...]: a JetStream server with storage in $tmp/NAME.
start_server() {
  local name=$1 port=$2; shift 2
  nats-server -js -sd "$tmp/$name" -a 127.0.0.1 -p "$port" -n "$name" "$@" >"$tmp/server-$name.log" 2>&1 &
  eval "srv_$name=$!"
  pids+=($!)
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    sleep 0.05
  done
  fail "server $name did not start"
}
stop_server() { local v="srv_$1"; kill -9 "${!v}" 2>/dev/null; wait "${!v}" 2>/dev/null; }

# bridge NAME ARGS...: starts a bridge in the background, its pid in $last.
bridge() {
  local name=$1; shift
  "$BRIDGE" "$@" --stats 2 >>"$tmp/$name.log" 2>&1 &
  last=$!
  pids+=($last)
}

gen() { "$RINGTOOL" gen "$@" >>"$tmp/gen.log" 2>&1 & gen_pid=$!; pids+=($gen_pid); }

# check RING COUNT ARGS...: runs the checker in the foreground; fails the test on any error.
check() {
  "$RINGTOOL" check "$@" >"$tmp/check.out" 2>"$tmp/check.log" || { cat "$tmp/check.log"; fail "check $*"; }
  cat "$tmp/check.out"
}

rand_ms() { echo $(( (RANDOM % ($2 - $1)) + $1 )); }

port=$(free_port)
URL=nats://127.0.0.1:$port

case $case_name in
roundtrip)
  start_server s1 "$port"
  note "round trip, $MSGS messages of 16..512 bytes, --batch 64"
  gen "$pre-src1" "$MSGS" --seed 11 --max 512
  bridge out1 out "$pre-src1" --server "$URL" --subject rt.batch --batch 64
  bridge in1 in --server "$URL" --subject rt.batch --durable rt1 "$pre-dst1" --size 4194304
  t0=$SECONDS; check "$pre-dst1" "$MSGS" --seed 11 --max 512 --stall 60; note "$((SECONDS - t0)) s"
  note "round trip, $MSGS_NOBATCH messages, one NATS message each"
  gen "$pre-src2" "$MSGS_NOBATCH" --seed 12 --max 512
  bridge out2 out "$pre-src2" --server "$URL" --subject rt.one
  bridge in2 in --server "$URL" --subject rt.one --durable rt2 "$pre-dst2"
  t0=$SECONDS; check "$pre-dst2" "$MSGS_NOBATCH" --seed 12 --max 512 --stall 60; note "$((SECONDS - t0)) s"
  ;;

kill_out|kill_in)
  start_server s1 "$port"
  victim=${case_name#kill_}
  for batch in 1 16; do
    note "$KILL_ROUNDS SIGKILLs of the $victim-bridge, $KILL_MSGS messages, --batch $batch"
    src="$pre-src$batch" dst="$pre-dst$batch" subj="kill.$victim.$batch"
    # Paced so that the stream outlasts the kills (about 4.5 s of them).
    gen "$src" "$KILL_MSGS" --seed 21 --max 300 --size 1048576 --rate 6000
    "$RINGTOOL" check "$dst" "$KILL_MSGS" --seed 21 --max 300 --stall 60 --size 1048576 >"$tmp/check.out" 2>"$tmp/check.log" &
    chk=$!; pids+=($chk)
    bridge out out "$src" --server "$URL" --subject "$subj" --batch "$batch" --window 256
    outp=$last
    bridge in in --server "$URL" --subject "$subj" --durable "k$batch" "$dst" --size 1048576 --fetch 64
    inp=$last
    for round in $(seq "$KILL_ROUNDS"); do
      sleep "0.$(printf %03d "$(rand_ms 50 400)")"
      if [ "$victim" = out ]; then kill -9 "$outp"; wait "$outp" 2>/dev/null
        bridge out out "$src" --server "$URL" --subject "$subj" --batch "$batch" --window 256; outp=$last
      else kill -9 "$inp"; wait "$inp" 2>/dev/null
        bridge in in --server "$URL" --subject "$subj" --durable "k$batch" "$dst" --size 1048576 --fetch 64; inp=$last
      fi
    done
    kill -0 "$chk" 2>/dev/null || fail "the stream ended before the last kill: raise NATS_TEST_KILL_MSGS"
    wait "$chk" || { cat "$tmp/check.log"; fail "check after kills of the $victim-bridge (batch $batch)"; }
    note "resumed by out-bridges: $(grep -c "already holds" "$tmp/out.log"), redeliveries skipped: $(grep -o "dups [0-9]*" "$tmp/in.log" | tail -1)"
    cat "$tmp/check.out"
    kill "$outp" "$inp" 2>/dev/null; wait "$outp" "$inp" 2>/dev/null
  done
  ;;

kill_server)
  start_server s1 "$port"
  note "$SERVER_ROUNDS SIGKILLs and restarts of nats-server, $KILL_MSGS messages"
  gen "$pre-src" "$KILL_MSGS" --seed 31 --max 300 --rate 20000
  "$RINGTOOL" check "$pre-dst" "$KILL_MSGS" --seed 31 --max 300 --stall 90 >"$tmp/check.out" 2>"$tmp/check.log" &
  chk=$!; pids+=($chk)
  bridge out out "$pre-src" --server "$URL" --subject ks --window 256
  bridge in in --server "$URL" --subject ks --durable ks "$pre-dst"
  for round in $(seq "$SERVER_ROUNDS"); do
    sleep "0.$(printf %03d "$(rand_ms 300 900)")"
    stop_server s1; note "server killed (round $round)"
    sleep 0.5
    start_server s1 "$port"; note "server restarted"
  done
  wait "$chk" || { cat "$tmp/check.log"; fail "check after server kills"; }
  cat "$tmp/check.out"
  grep -q "reconnect" "$tmp/out.log" || fail "the out-bridge did not log its reconnection"
  ;;

cluster)
  p1=$port p2=$(free_port) p3=$(free_port) c1=$(free_port) c2=$(free_port) c3=$(free_port)
  routes="nats://127.0.0.1:$c1,nats://127.0.0.1:$c2,nats://127.0.0.1:$c3"
  start_server n1 "$p1" --cluster_name shm --cluster "nats://127.0.0.1:$c1" --routes "$routes"
  start_server n2 "$p2" --cluster_name shm --cluster "nats://127.0.0.1:$c2" --routes "$routes"
  start_server n3 "$p3" --cluster_name shm --cluster "nats://127.0.0.1:$c3" --routes "$routes"
  servers="nats://127.0.0.1:$p1,nats://127.0.0.1:$p2,nats://127.0.0.1:$p3"
  note "three-server cluster, stream with 3 replicas, $KILL_MSGS messages, one server killed"
  gen "$pre-src" "$KILL_MSGS" --seed 41 --max 300 --rate 15000
  "$RINGTOOL" check "$pre-dst" "$KILL_MSGS" --seed 41 --max 300 --stall 90 >"$tmp/check.out" 2>"$tmp/check.log" &
  chk=$!; pids+=($chk)
  # The stream needs the JetStream meta leader: the bridges retry until the cluster is ready.
  bridge out out "$pre-src" --server "$servers" --subject cl --replicas 3 --window 256
  bridge in in --server "$servers" --subject cl --durable cl "$pre-dst" --replicas 3
  # Kill n1 only once the in-bridge has its consumer (so the R3 stream exists too): a stream
  # created after a server is gone has "no suitable peers for placement" (JetStream error
  # 10005) and the bridges retry forever. A fixed 2 s was too short under load.
  for _ in $(seq 600); do
    grep -q "^shmring-nats: consumer cl[: ]" "$tmp/in.log" && break
    sleep 0.1
  done
  grep -q "^shmring-nats: consumer cl[: ]" "$tmp/in.log" || fail "stream and consumer not set up"
  sleep 1
  stop_server n1; note "server n1 killed"
  wait "$chk" || { cat "$tmp/check.log"; fail "check with a server of the cluster killed"; }
  cat "$tmp/check.out"
  ;;

behaviours)
  note "server down at start: the out-bridge keeps the messages and retries with a backoff"
  gen "$pre-src" 2000 --seed 51 --max 200
  bridge out out "$pre-src" --server "$URL" --subject bh
  outp=$last
  sleep 1.5
  grep -q "connect attempt" "$tmp/out.log" || fail "no connect attempt logged"
  start_server s1 "$port"
  note "full destination ring: the in-bridge stops fetching, JetStream keeps the rest"
  bridge in in --server "$URL" --subject bh --durable bh "$pre-dst" --size 16384
  inp=$last
  sleep 3
  used=$("$BRIDGE" 2>&1 | head -0; python3 - "$pre-dst" <<'PY'
import os,sys
print(os.path.getsize("/dev/shm/"+sys.argv[1]))
PY
)
  [ "$used" = 16384 ] || fail "destination ring size $used"
  kill -0 "$inp" || fail "the in-bridge exited on a full ring"
  check "$pre-dst" 2000 --seed 51 --max 200 --stall 30
  kill "$outp" "$inp"; wait "$outp" "$inp" 2>/dev/null

  note "oversized message: a clear error and exit 5 (--oversize stop), or skip and count"
  "$RINGTOOL" gen "$pre-big" 3 --seed 52 --max 1500000 --size 4194304 >/dev/null 2>&1
  rc=0; timeout 20 "$BRIDGE" out "$pre-big" --server "$URL" --subject big >"$tmp/big.log" 2>&1 || rc=$?
  [ "$rc" = 5 ] || fail "oversize stop: exit $rc"
  grep -q "too large for the server's max_payload" "$tmp/big.log" || fail "no oversize message"
  timeout 5 "$BRIDGE" out "$pre-big" --server "$URL" --subject big --oversize skip --json --stats 0.5 >"$tmp/big2.log" 2>&1
  grep -q '"skipped":[1-9]' "$tmp/big2.log" || fail "oversize skip not counted"

  note "bad credentials: exit 4 with the server's reason"
  p2=$(free_port)
  start_server auth "$p2" --user alice --pass secret
  rc=0; NATS_USER=alice NATS_PASSWORD=wrong timeout 20 "$BRIDGE" out "$pre-src" --server "nats://127.0.0.1:$p2" --subject x >"$tmp/auth.log" 2>&1 || rc=$?
  [ "$rc" = 4 ] || fail "bad credentials: exit $rc"
  grep -qi "authoriz" "$tmp/auth.log" || fail "no authorization error"
  rc=0; timeout 5 "$BRIDGE" out "$pre-src" --server "$URL" --subject x --password secret >"$tmp/pw.log" 2>&1 || rc=$?
  [ "$rc" = 2 ] && grep -q "not accepted on the command line" "$tmp/pw.log" || fail "--password accepted"

  note "wrong URL: exit 2 when malformed; 4 after --connect-timeout when nobody answers"
  rc=0; timeout 20 "$BRIDGE" out "$pre-src" --server "nats://127.0.0.1:notaport" --subject x >"$tmp/url.log" 2>&1 || rc=$?
  [ "$rc" = 2 ] || { cat "$tmp/url.log"; fail "malformed URL: exit $rc"; }
  rc=0; timeout 20 "$BRIDGE" out "$pre-src" --server "nats://127.0.0.1:$(free_port)" --subject x --connect-timeout 1 >"$tmp/url2.log" 2>&1 || rc=$?
  [ "$rc" = 4 ] && grep -q "giving up" "$tmp/url2.log" || { cat "$tmp/url2.log"; fail "unreachable URL: exit $rc"; }
  ;;

core)
  start_server s1 "$port"
  note "--core round trip, $MSGS_NOBATCH messages, paced"
  "$RINGTOOL" check "$pre-dst" "$MSGS_NOBATCH" --seed 61 --max 300 --stall 30 >"$tmp/check.out" 2>"$tmp/check.log" &
  chk=$!; pids+=($chk)
  bridge in in --core --server "$URL" --subject co "$pre-dst"
  sleep 0.5
  gen "$pre-src" "$MSGS_NOBATCH" --seed 61 --max 300 --rate 50000
  bridge out out --core "$pre-src" --server "$URL" --subject co --batch 8
  wait "$chk" || { cat "$tmp/check.log"; fail "core round trip"; }
  cat "$tmp/check.out"

  note "--core with a slow subscriber: the client drops what it cannot hold, counted, rest in order"
  bridge in2 in --core --server "$URL" --subject co2 "$pre-dst2" --size 16384 --json
  sleep 0.5
  gen "$pre-src2" 200000 --seed 62 --max 300
  bridge out2 out --core "$pre-src2" --server "$URL" --subject co2
  sleep 4
  grep -q '"dropped":[1-9]' "$tmp/in2.log" || fail "no drop counted with a stalled subscriber"
  "$RINGTOOL" check "$pre-dst2" 200000 --seed 62 --max 300 --stall 5 --gaps >"$tmp/check.out" 2>"$tmp/check.log"
  rc=$?
  # The checker ends when nothing arrives for 5 s (the lost tail): rc 2; never 1 (disorder).
  [ "$rc" = 1 ] && { cat "$tmp/check.log"; fail "disorder or duplicate in core mode"; }
  tail -1 "$tmp/in2.log"
  ;;
*) echo "unknown case $case_name"; exit 2 ;;
esac
note "PASS $case_name"
