#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_cli.sh SHMRING_BINARY: runs the `shmring` tool through every subcommand, its error paths
# and a cross-process round trip, and checks exit codes and output. Prints one line per check,
# then "N passed, N failed"; exits 1 if any check failed, 77 if this system cannot run it.
set -u

BIN=${1:?usage: test_cli.sh path/to/shmring}
if [ ! -x "$BIN" ]; then
  echo "test_cli: $BIN is not an executable" >&2
  exit 1
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
if [ ! -d /dev/shm ]; then
  echo "skip: no /dev/shm on this system (ls and rm --stale need it)"
  exit 77
fi

P="clitest-$$" # every name this run creates starts with it
TMP=$(mktemp -d)
PASS=0
FAIL=0
BGPIDS=()

cleanup() {
  for pid in "${BGPIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  rm -f /dev/shm/"$P"-* 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() {
  FAIL=$((FAIL + 1))
  echo "FAIL $1"
  shift
  for line in "$@"; do echo "     $line"; done
}

# run CMD...: runs the tool, keeping its exit code in RC and its output in OUT / ERR.
run() {
  "$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
  RC=$?
  OUT=$(cat "$TMP/out")
  ERR=$(cat "$TMP/err")
}

# check DESCRIPTION WANT_RC CMD...: runs the tool and checks its exit code.
check() {
  local desc=$1 want=$2
  shift 2
  run "$@"
  if [ "$RC" -eq "$want" ]; then
    ok "$desc"
  else
    bad "$desc" "command: shmring $*" "exit code $RC, wanted $want" "stdout: $OUT" "stderr: $ERR"
  fi
}

# expect DESCRIPTION CONDITION...: a check on what the last run printed (or anything else).
expect() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else bad "$desc" "failed: $*" "stdout: $OUT" "stderr: $ERR"; fi
}
has() { grep -qF -- "$2" <<<"$1"; }
lacks() { ! grep -qF -- "$2" <<<"$1"; }
json_field() { # json_field KEY: the value of a top-level number or string field in $OUT
  sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$OUT" | head -n 1
}
valid_json() {
  if command -v python3 >/dev/null 2>&1 && python3 -c 'print()' >/dev/null 2>&1; then
    python3 -c 'import json,sys; json.load(sys.stdin)' <<<"$OUT"
  else
    [ -n "$OUT" ] # no python: at least something was printed
  fi
}
exists() { [ -e "/dev/shm/$1" ]; }

# start NAME CMD...: runs the tool in the background (its pid in LAST; CTest's timeout bounds
# it, and the exit trap kills it), output in $TMP/NAME.out and $TMP/NAME.err.
start() {
  local name=$1
  shift
  "$BIN" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  LAST=$!
  BGPIDS+=("$LAST")
}

# wait_for CONDITION...: polls for up to 5 s.
wait_for() {
  for _ in $(seq 1 100); do
    if "$@"; then return 0; fi
    sleep 0.05
  done
  return 1
}
# The consumer (or producer) of a ring is attached once stat reports it alive.
peer_alive() { # peer_alive NAME producer|consumer
  "$BIN" stat "$1" --json 2>/dev/null | grep -q "\"$2\":{\"pid\":[0-9]*,\"alive\":true"
}

echo "# shmring CLI tests: $BIN, names $P-*"

# ---- help and usage -------------------------------------------------------------------------
check "shmring --help" 0 --help
expect "--help lists the exit codes" has "$OUT" "Exit codes:"
for cmd in create send recv stat ls rm set get bench; do
  check "$cmd --help" 0 "$cmd" --help
  expect "$cmd --help shows its usage" has "$OUT" "Usage: shmring $cmd"
done
# The help is printed from each command's option table, so its option lines and the parser
# cannot disagree; the usage lines are written by hand: every option they or the option lines
# name must be accepted (the trailing --help makes each run print help instead of acting).
for cmd in create send recv stat ls rm set get bench; do
  run "$cmd" --help
  opts=$(grep -E '^(Usage: |       shmring |  -[a-z], --|      --)' <<<"$OUT" |
    grep -oE -- '--[a-z][a-z-]*' | sort -u)
  for o in $opts; do
    run "$cmd" "$o" 1 --help </dev/null
    expect "$cmd --help: $o is accepted" test "$RC" -eq 0
  done
done
run recv --help
expect "recv --help: one help line per option" \
  test "$(grep -cE '^  -[a-z], --(count|follow|timeout|binary)' <<<"$OUT")" -eq 4
check "no command is a usage error" 1
check "unknown command" 1 frobnicate
expect "unknown command is named" has "$ERR" "unknown command 'frobnicate'"
check "unknown option" 1 stat "$P-x" --bogus
expect "unknown option is named" has "$ERR" "unknown option '--bogus'"
check "--version" 0 --version

# ---- create --------------------------------------------------------------------------------
check "create: missing name" 1 create
expect "create: missing name says so" has "$ERR" "missing ring name"
check "create: invalid name" 1 create "a/b"
expect "create: invalid name says why" has "$ERR" "invalid ring name"
check "create: bad size (not a page multiple)" 1 create "$P-a" --size 1000
expect "create: bad size is explained" has "$ERR" "bad size '1000'"
check "create: bad size (unknown suffix)" 1 create "$P-a" --size 12Q
check "create: bad size (over 4G)" 1 create "$P-a" --size 8G
check "create: bad mode" 1 create "$P-a" --mode 999
expect "create: nothing was created by the failures" test ! -e "/dev/shm/$P-a"
check "create --size 64K --persist" 0 create "$P-a" --size 64K --persist
expect "create: the object has the size asked for" test "$(stat -c %s "/dev/shm/$P-a")" = 65536
check "create: the name exists already" 7 create "$P-a"
expect "create: exists is reported" has "$ERR" "already exists"
check "create --mode 0660" 0 create "$P-mode" --mode 0660 --persist
expect "create: mode is applied exactly" test "$(stat -c %a "/dev/shm/$P-mode")" = 660
# Read without write for group or others is not given (issue #10: a reader could hold locks).
check "create --mode 0640" 0 create "$P-mode640" --mode 0640 --persist
expect "create: read-only group access is dropped" test "$(stat -c %a "/dev/shm/$P-mode640")" = 600

# ---- send / recv / stat on a persistent ring -------------------------------------------------
R="$P-a"
check "send three arguments" 0 send "$R" one two three
check "stat --json after send" 0 stat "$R" --json
expect "stat: valid JSON" valid_json
expect "stat: 3 messages waiting" test "$(json_field messages)" = 3
expect "stat: sent_msgs counts 3" test "$(json_field sent_msgs)" = 3
expect "stat: persistent" has "$OUT" '"persistent":true'
check "stat (text)" 0 stat "$R"
expect "stat text shows the fill" has "$OUT" "3 messages waiting"
check "recv drains what is waiting" 0 recv "$R"
expect "recv prints one message per line, in order" test "$OUT" = "$(printf 'one\ntwo\nthree')"
check "recv on an empty ring" 5 recv "$R"
expect "recv empty says so" has "$ERR" "recv '$R'"
check "recv --timeout 0.2 on an empty ring" 5 recv "$R" --timeout 0.2
expect "recv timeout says timed out" has "$ERR" "timed out"
check "stat counters after recv" 0 stat "$R" --json
expect "stat: recv_msgs counts 3" test "$(json_field recv_msgs)" = 3
expect "stat: used_bytes back to 0" test "$(json_field used_bytes)" = 0

# Escaping: non-printable bytes are escaped, UTF-8 passes, backslash is doubled.
check "send awkward bytes" 0 send "$R" $'a\tb' 'c\d' '' $'\x01\x7f\xff' 'héllo'
check "recv escapes them" 0 recv "$R" --count 5
expect "recv escaping" test "$OUT" = "$(printf '%s\n' 'a\tb' 'c\\d' '' '\x01\x7f\xff' 'héllo')"

# Lines from stdin, including an empty line and a last line without newline.
printf 'l1\nl2\n\nl4' | "$BIN" send "$R" 2>"$TMP/err"
expect "send from stdin lines" test $? -eq 0
check "recv --count 4 gets the lines" 0 recv "$R" --count 4
expect "stdin lines round trip" test "$OUT" = "$(printf 'l1\nl2\n\nl4')"

# --binary: 4-byte little-endian length + bytes, both ways, byte-exact.
printf '\003\000\000\000abc\000\000\000\000\004\000\000\000\n\000\377x' >"$TMP/records"
"$BIN" send "$R" --binary <"$TMP/records" 2>"$TMP/err"
expect "send --binary" test $? -eq 0
"$BIN" recv "$R" --binary --count 3 >"$TMP/records.out" 2>"$TMP/err"
expect "recv --binary exit code" test $? -eq 0
expect "binary records round trip byte-exact" cmp -s "$TMP/records" "$TMP/records.out"
printf '\010\000\000\000abc' | "$BIN" send "$R" --binary 2>"$TMP/err"
RC=$?
ERR=$(cat "$TMP/err")
expect "send --binary: truncated record fails (8)" test "$RC" -eq 8
expect "send --binary: truncated record is reported" has "$ERR" "input ended inside record 1"
check "send --binary with arguments is a usage error" 1 send "$R" --binary x

# Limits and error paths of send/recv.
check "send: message larger than the ring allows" 8 send "$P-mode" "$(head -c 2000 /dev/zero | tr '\0' x)"
expect "send: too large names the limit" has "$ERR" "at most 1784 bytes"
check "send: missing ring name" 1 send
check "send: no such ring" 2 send "$P-nope" hi
expect "send: not found message" has "$ERR" "send '$P-nope': no ring of that name exists"
check "recv: no such ring" 2 recv "$P-nope"
check "stat: no such ring" 2 stat "$P-nope"
check "rm: no such ring" 2 rm "$P-nope"
check "recv: bad count" 1 recv "$R" --count 0
check "recv: bad timeout" 1 recv "$R" --timeout -1
check "stat: missing name" 1 stat

# A full ring without a consumer: send waits, then times out.
check "send --timeout 0.3 into a ring that fills" 5 send "$P-mode" --timeout 0.3 $(seq 1 400 | sed 's/^/message-padding-padding-/')
expect "send: timeout is reported with the message number" has "$ERR" "timed out"
check "stat: full_events counted" 0 stat "$P-mode" --json
expect "stat: the ring is nearly full" test "$(json_field used_bytes)" -gt 3000
expect "stat: full_events > 0" test "$(json_field full_events)" -gt 0

# ---- not a shmring mapping -----------------------------------------------------------------
G="$P-garbage"
head -c 8192 /dev/urandom >"/dev/shm/$G"
check "stat: not a shmring mapping" 4 stat "$G"
expect "stat: not-a-ring is explained" has "$ERR" "not a valid shmring mapping"
check "send: not a shmring mapping" 4 send "$G" hi
check "recv: not a shmring mapping" 4 recv "$G"
check "rm: refuses a non-shmring mapping" 4 rm "$G"
expect "rm: the mapping is still there" exists "$G"
check "ls --json" 0 ls --json
expect "ls: valid JSON" valid_json
expect "ls: lists the rings" has "$OUT" "\"name\":\"$P-a\""
expect "ls: does not list the garbage" lacks "$OUT" "\"$G\""
check "rm --force removes a non-shmring mapping" 0 rm --force "$G"
expect "rm --force: gone" test ! -e "/dev/shm/$G"

# ls finds rings by their header, whatever the name: a ring with an odd name is listed, a
# ring-looking name holding garbage is not.
check "create a ring with an unremarkable name" 0 create "$P.z_9" --persist
head -c 4096 /dev/zero >"/dev/shm/$P-shmring-ring"
check "ls (text)" 0 ls
expect "ls: header row" has "$OUT" "NAME"
expect "ls: finds the ring by its header" grep -qE "^$P\.z_9 +4K +0 +0\.0% +0 +- +- +persistent,idle$" <<<"$OUT"
expect "ls: skips a zero-filled object with a ring-like name" lacks "$OUT" "$P-shmring-ring"
rm -f "/dev/shm/$P-shmring-ring"
# Whatever else lives in the shm directory (here a FIFO, which would block a reader's open), ls
# and rm --stale look at it without waiting.
mkfifo "/dev/shm/$P-fifo"
timeout 10 "$BIN" ls >/dev/null 2>&1
expect "ls: a FIFO in /dev/shm does not block it" test $? -eq 0
timeout 10 "$BIN" rm --stale --dry-run >/dev/null 2>&1
expect "rm --stale: a FIFO in /dev/shm does not block it" test $? -eq 0
rm -f "/dev/shm/$P-fifo"

# ---- round trip across processes ----------------------------------------------------------
RT="$P-rt"
check "round trip: create --persist --size 16K" 0 create "$RT" --persist --size 16K
start rt recv "$RT" --count 2000 --timeout 10
RECV_PID=$LAST
expect "round trip: the consumer attached" wait_for peer_alive "$RT" consumer
seq 1 2000 | sed 's/$/ some padding to fill the ring faster/' >"$TMP/rt.in"
"$BIN" send "$RT" <"$TMP/rt.in" 2>"$TMP/err"
expect "round trip: the producer process sent 2000 lines" test $? -eq 0
wait "$RECV_PID"
expect "round trip: the consumer process exited 0" test $? -eq 0
expect "round trip: every message arrived once, in order" cmp -s "$TMP/rt.in" "$TMP/rt.out"
check "round trip: stat" 0 stat "$RT" --json
expect "round trip: sent_msgs 2000" test "$(json_field sent_msgs)" = 2000
expect "round trip: recv_msgs 2000" test "$(json_field recv_msgs)" = 2000
expect "round trip: nothing left" test "$(json_field used_bytes)" = 0
expect "round trip: no peers left" has "$OUT" '"producer":{"pid":0,"alive":false'
check "round trip: rm" 0 rm "$RT"
expect "round trip: rm removed the name" test ! -e "/dev/shm/$RT"
check "round trip: stat after rm" 2 stat "$RT"

# Draining ends even while a producer keeps the ring full.
D="$P-drain"
check "create ring for a busy producer" 0 create "$D" --persist
yes message | "$BIN" send "$D" >/dev/null 2>&1 &
YES_PID=$!
BGPIDS+=("$YES_PID")
expect "busy producer attached" wait_for peer_alive "$D" producer
# Attached is not yet sending: a producer descheduled between its open and its first sends (a
# loaded machine) would leave the ring empty and the drain below would find nothing (exit 5).
# Once it has hit a full ring, the ring stays full until a consumer comes.
ring_filled() { "$BIN" stat "$1" --json 2>/dev/null | grep -qE '"full_events":[1-9]'; }
expect "busy producer filled the ring" wait_for ring_filled "$D"
timeout 10 "$BIN" recv "$D" >"$TMP/drain.out" 2>"$TMP/drain.err"
expect "recv drains what was waiting and exits while a producer keeps sending" test $? -eq 0
expect "the drain printed about a ring's worth" test "$(wc -l <"$TMP/drain.out")" -ge 100 -a \
  "$(wc -l <"$TMP/drain.out")" -lt 5000
# The consumer has closed: the producer fills the ring, then learns nobody will read it.
wait "$YES_PID"
expect "send exits 6 once the consumer is gone and the ring is full" test $? -eq 6
check "rm the drained ring" 0 rm "$D"

# ---- peers: busy, gone, killed, signals -------------------------------------------------------
F="$P-follow"
check "create a non-persistent ring" 0 create "$F"
start follow recv "$F" --follow
FOLLOW_PID=$LAST
expect "follow: the consumer attached" wait_for peer_alive "$F" consumer
check "recv while another process is the consumer" 7 recv "$F"
expect "busy is reported" has "$ERR" "already held by a live process"
check "stat shows the live consumer" 0 stat "$F"
expect "stat: consumer pid, alive" has "$OUT" "consumer    pid $FOLLOW_PID, alive"
check "send to the follower" 0 send "$F" a b c
wait "$FOLLOW_PID"
RC=$?
expect "follow: exits 6 once the producer is gone" test "$RC" -eq 6
expect "follow: printed everything before that" test "$(cat "$TMP/follow.out")" = "$(printf 'a\nb\nc')"
expect "follow: says the peer is gone" has "$(cat "$TMP/follow.err")" "closed or died"
expect "follow: the last user removed the non-persistent name" test ! -e "/dev/shm/$F"

# SIGTERM: the follower closes cleanly (128+15) and, being the last user, removes the name.
check "create ring for SIGTERM" 0 create "$F"
start term recv "$F" --follow
TERM_PID=$LAST
expect "SIGTERM: the consumer attached" wait_for peer_alive "$F" consumer
kill -TERM "$TERM_PID"
wait "$TERM_PID"
expect "SIGTERM: recv exits 143" test $? -eq 143
expect "SIGTERM: the ring was closed cleanly (name removed)" test ! -e "/dev/shm/$F"

# SIGKILL: nobody closes; the name stays with no live user, and rm --stale removes it.
K="$P-killed"
check "create ring for SIGKILL" 0 create "$K"
start killed recv "$K" --follow
KILL_PID=$LAST
expect "SIGKILL: the consumer attached" wait_for peer_alive "$K" consumer
kill -9 "$KILL_PID"
wait "$KILL_PID" 2>/dev/null
check "stat after SIGKILL" 0 stat "$K" --json
expect "stat: the killed consumer shows as dead" has "$OUT" "\"consumer\":{\"pid\":$KILL_PID,\"alive\":false"
expect "stat: nobody has it open" has "$OUT" '"in_use":false'
check "rm --stale --dry-run" 0 rm --stale --dry-run "$K"
expect "dry run names it" test "$OUT" = "would remove $K"
expect "dry run removed nothing" exists "$K"
check "rm --stale removes the killed ring" 0 rm --stale "$K"
expect "rm --stale prints what it removed" test "$OUT" = "removed $K"
expect "rm --stale: gone" test ! -e "/dev/shm/$K"

# rm --stale keeps rings in use, and idle persistent ones unless --force.
check "create ring kept in use" 0 create "$K"
start inuse recv "$K" --follow
INUSE_PID=$LAST
expect "in use: the consumer attached" wait_for peer_alive "$K" consumer
check "rm --stale keeps a ring in use" 0 rm --stale "$K" "$P.z_9"
expect "rm --stale: in-use ring kept" exists "$K"
expect "rm --stale: persistent ring kept" exists "$P.z_9"
expect "rm --stale: says why" has "$ERR" "kept '$P.z_9': persistent"
check "rm --stale --force removes an idle persistent ring" 0 rm --stale --force "$P.z_9"
expect "rm --stale --force: gone" test ! -e "/dev/shm/$P.z_9"
kill -TERM "$INUSE_PID"
wait "$INUSE_PID" 2>/dev/null

# A lone send on a non-persistent ring: its close removes the ring, and it warns.
check "create ring for a lone send" 0 create "$P-lone"
check "lone send succeeds" 0 send "$P-lone" dropped
expect "lone send warns that messages are dropped" has "$ERR" "dropped with it"
expect "lone send: the ring went with its last user" test ! -e "/dev/shm/$P-lone"

# ---- permissions ----------------------------------------------------------------------------
PR="$P-perm"
check "create ring for permission tests" 0 create "$PR" --persist
if [ "$(id -u)" -eq 0 ] && ! id nobody >/dev/null 2>&1; then
  echo "skip: permission checks: running as root and there is no user 'nobody' to test with"
elif [ "$(id -u)" -eq 0 ]; then
  # As root, mode bits do not stop us: use a ring owned by another user instead.
  chown nobody "/dev/shm/$PR"
  check "send to a ring owned by another user" 3 send "$PR" hi
  expect "permission error text" has "$ERR" "belongs to another user"
  chown root "/dev/shm/$PR"
  AS_NOBODY=()
  if command -v setpriv >/dev/null 2>&1; then
    AS_NOBODY=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
  elif command -v runuser >/dev/null 2>&1; then
    AS_NOBODY=(runuser -u nobody --)
  fi
  if [ ${#AS_NOBODY[@]} -gt 0 ] && "${AS_NOBODY[@]}" "$BIN" --version >/dev/null 2>&1; then
    "${AS_NOBODY[@]}" "$BIN" stat "$PR" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    ERR=$(cat "$TMP/err")
    expect "stat as another user: permission denied (3)" test "$RC" -eq 3
    expect "stat as another user: says so" has "$ERR" "permission denied"
    "${AS_NOBODY[@]}" "$BIN" rm "$PR" >"$TMP/out" 2>"$TMP/err"
    expect "rm as another user: permission denied (3)" test $? -eq 3
    expect "rm as another user: still there" exists "$PR"
  else
    echo "skip: cannot run the tool as user nobody (no setpriv/runuser, or $BIN not reachable)"
  fi
else
  chmod 000 "/dev/shm/$PR"
  check "send to a ring we may not open" 3 send "$PR" hi
  check "stat of a ring we may not read" 3 stat "$PR"
  chmod 600 "/dev/shm/$PR"
fi

# ---- set / get ------------------------------------------------------------------------------
if has "$("$BIN" get 2>&1)" "this build has no SetSharedMem"; then
  echo "skip: set/get: this build has no src/compat.c"
else
  export SHMRING_COMPAT_NAME="$P-compat"
  check "get before any set: empty" 0 get
  expect "get: empty value" test "$OUT" = ""
  start hold set "held value" --hold
  HOLD_PID=$LAST
  get_is() { [ "$("$BIN" get 2>/dev/null)" = "$1" ]; }
  expect "set --hold: the value is visible to another process" wait_for get_is "held value"
  check "ls shows the legacy mapping" 0 ls
  expect "ls: legacy flag" grep -qE "^$P-compat .* legacy$" <<<"$OUT"
  check "set replaces the value" 0 set $'new\tvalue'
  check "get prints it escaped" 0 get
  expect "get: the new value" test "$OUT" = 'new\tvalue'
  kill -TERM "$HOLD_PID"
  wait "$HOLD_PID"
  expect "set --hold exits 0 on SIGTERM" test $? -eq 0
  expect "set: the last user removed the mapping" test ! -e "/dev/shm/$P-compat"
  check "set: missing TEXT" 1 set
  SHMRING_COMPAT_NAME="$P-mode" "$BIN" get >"$TMP/out" 2>"$TMP/err"
  RC=$?
  ERR=$(cat "$TMP/err")
  expect "get on a queue ring: not a set/get mapping (4)" test "$RC" -eq 4
  expect "get on a queue ring: says so" has "$ERR" "get '$P-mode'"
  unset SHMRING_COMPAT_NAME
fi

# ---- bench ----------------------------------------------------------------------------------
check "bench --seconds 0.1 --size 32" 0 bench --seconds 0.1 --size 32
expect "bench: a shmring row" grep -qE "^shmring +[0-9]+ " <<<"$OUT"
expect "bench: a pipe row" grep -qE "^pipe +[0-9]+ " <<<"$OUT"
expect "bench: sequence-checked" has "$OUT" "every sequence number in order"
expect "bench: no progress line when stderr is not a terminal" test -z "$ERR"
check "bench: bad size" 1 bench --size 0
check "bench: ring too small" 1 bench --size 3000 --ring 4K

# ---- multi-producer rings (issue 13) ---------------------------------------------------------
check "create --producers 8" 0 create "$P-mp" --producers 8
check "stat: a multi-producer ring" 0 stat "$P-mp"
expect "stat: kind" has "$OUT" "multi-producer ring"
expect "stat: slots" has "$OUT" "0 live of 8 slots"
check "stat --json (multi-producer)" 0 stat --json "$P-mp"
expect "stat --json: kind mpsc" has "$OUT" '"kind":"mpsc"'
expect "stat --json: max_producers" has "$OUT" '"max_producers":8'
check "ls shows the kind" 0 ls
expect "ls: multi-producer flag" has "$OUT" "multi-producer"
check "create --producers 2000" 1 create "$P-mp2" --producers 2000
check "rm the multi-producer ring" 0 rm "$P-mp"

# ---- create --hold: a non-persistent ring kept alive by the creator (Windows' only way) -------
start hold create "$P-hold" --hold
HOLD=$LAST
expect "create --hold: the ring exists" wait_for exists "$P-hold"
check "create --hold: the name is taken" 7 create "$P-hold"
check "send to the held ring" 0 send "$P-hold" one two
expect "the ring outlived its lone sender" exists "$P-hold"
check "recv from the held ring" 0 recv "$P-hold" --count 2
expect "recv: both messages" test "$OUT" = $'one\ntwo'
kill -TERM "$HOLD"
wait "$HOLD"
RC=$?
expect "create --hold: SIGTERM ends it with exit 0" test "$RC" -eq 0
expect "create --hold: its close, the last, removed the ring" test ! -e "/dev/shm/$P-hold"

# ---- done -----------------------------------------------------------------------------------
check "rm several names" 0 rm "$P-a" "$P-mode" "$P-mode640" "$PR"
expect "rm several: all gone" lacks "$(ls /dev/shm)" "$P-"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
