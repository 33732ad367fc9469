#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_cli_win.sh WINE_RUN DLL_DIR SHMRING_EXE: shmring.exe under wine (tests/win, CTest). What
# a ring's life looks like from a Windows shell: a ring lives only while some process has it
# open, so `create --hold` keeps one for the other commands; send, recv (text, --count, --follow,
# --binary), stat (text, --json), a multi-producer ring with two producers at once, set/get, the
# commands Windows does not have (ls, rm, rm --stale, bench, --persist: a clear message and a
# non-zero exit, and the help says so), and that a ring ends with its last process.
# Prints one line per check, then "N passed, N failed"; exits 1 if any check failed.
set -u

WINE_RUN=${1:?usage: test_cli_win.sh wine-run.sh DLL_DIR shmring.exe}
DLLS=${2:?}
EXE=${3:?}
ARCH=$(basename "$(dirname "$EXE")")
P="t-cliwin-${ARCH##*-}-$$" # every name this run creates starts with it
TMP=$(mktemp -d)
PASS=0
FAIL=0
BGPIDS=()

cleanup() {
  for pid in "${BGPIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
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
tool() { "$WINE_RUN" --dlls "$DLLS" "$EXE" "$@"; }
# run CMD...: runs shmring.exe, keeping its exit code in RC and its output in OUT / ERR (text
# mode: the CR of each CR LF line end removed; a CR inside a message is printed escaped, \r).
run() {
  tool "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
  RC=$?
  OUT=$(tr -d '\r' <"$TMP/out")
  ERR=$(tr -d '\r' <"$TMP/err")
}
check() { # check DESCRIPTION WANT_RC CMD...
  local desc=$1 want=$2
  shift 2
  run "$@"
  if [ "$RC" -eq "$want" ]; then
    ok "$desc"
  else
    bad "$desc" "command: shmring.exe $*" "exit code $RC, wanted $want" "stdout: $OUT" "stderr: $ERR"
  fi
}
# check_soon DESCRIPTION WANT_RC CMD...: check, allowing 2 s for the result: wine ends a process
# before the wineserver has closed all its handles, so a peer that just exited may still look
# attached for a moment (a ring whose producer closed, then, is only empty, not finished).
check_soon() {
  local i
  for i in $(seq 20); do
    run "${@:3}"
    [ "$RC" -eq "$2" ] && break
    sleep 0.1
  done
  check "$@"
}
expect() { # expect DESCRIPTION CONDITION...
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else bad "$desc" "failed: $*" "stdout: $OUT" "stderr: $ERR"; fi
}
has() { grep -qF -- "$2" <<<"$1"; }
# start NAME CMD...: shmring.exe in the background (LAST: the pid of the wine process itself,
# wine-run.sh execs it), output in $TMP/NAME.out/.err, stdin from $IN (default /dev/null).
start() {
  local name=$1
  shift
  "$WINE_RUN" --dlls "$DLLS" "$EXE" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" <"${IN:-/dev/null}" &
  LAST=$!
  BGPIDS+=("$LAST")
}
exists() { tool stat "$1" >/dev/null 2>&1; }
gone() { ! exists "$1"; }
stat_has() { tool stat "$1" --json 2>/dev/null | grep -q -- "$2"; } # stat_has NAME REGEX
value_is() { [ "$(tool get 2>/dev/null | tr -d '\r')" = "$1" ]; }
wait_for() { # wait_for CONDITION...: polls for up to 10 s
  for _ in $(seq 1 100); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  return 1
}
stop() { # stop PID: ends a holder (as TerminateProcess would: wine kills the process)
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

echo "# shmring.exe under wine: $EXE, names $P-*"

# ---- help, and what Windows does not have ----------------------------------------------------
check "--help" 0 --help
expect "--help: ls, rm, rm --stale not supported on Windows" \
  has "$OUT" "Not supported on Windows: ls, rm and rm --stale"
expect "--help: sections cannot be enumerated" has "$OUT" "sections cannot be enumerated"
expect "--help: the section's name" has "$OUT" 'Local\shmring-NAME.mem'
for cmd in ls rm; do
  check "$cmd --help" 0 "$cmd" --help
  expect "$cmd --help says Windows cannot" has "$OUT" "On Windows this command is not supported"
done
check "ls: not supported" 8 ls
expect "ls: the reason" has "$ERR" \
  "shmring: ls: not supported on Windows: sections cannot be enumerated or removed by name"
check "ls --json: not supported" 8 ls --json
check "rm --stale: not supported" 8 rm --stale
expect "rm --stale: the reason" has "$ERR" "shmring: rm --stale: not supported on Windows"
check "rm NAME: not supported" 8 rm "$P-x"
expect "rm NAME: the reason" has "$ERR" "shmring: rm: not supported on Windows"
check "bench: not supported" 8 bench
expect "bench: the reason" has "$ERR" "bench: not supported on Windows"
check "create --persist: not supported" 1 create "$P-p" --persist
expect "create --persist: the reason" has "$ERR" "--persist is not supported on Windows"
check "create --mode 0660: not supported" 8 create "$P-m" --mode 0660
check "create without --hold: not supported" 8 create "$P-gone"
expect "create without --hold: the reason" has "$ERR" "use --hold to keep it"
check "... and no ring was made" 2 stat "$P-gone"
check "bad name" 1 create "bad/name"
check "stat of a missing ring" 2 stat "$P-none"
check "send to a missing ring" 2 send "$P-none" x

# ---- a ring kept by create --hold ------------------------------------------------------------
R="$P-jobs"
start hold create "$R" --size 64K --hold
HOLD=$LAST
expect "create --hold: the ring exists" wait_for exists "$R"
check "create: the name is taken" 7 create "$R"
check "send two arguments" 0 send "$R" "resize img-001.png" "two words"
printf 'tab\there\nbell\a\ncrlf\r\n' >"$TMP/lines"
tool send "$R" <"$TMP/lines" >"$TMP/out" 2>"$TMP/err"
RC=$?
expect "send stdin lines" test "$RC" -eq 0
check "stat" 0 stat "$R"
expect "stat: 5 messages waiting" has "$OUT" "5 messages waiting"
expect "stat: 64K" has "$OUT" "64K (65536 bytes)"
expect "stat: open" has "$OUT" "open        yes"
check "stat --json" 0 stat "$R" --json
expect "stat --json: messages" has "$OUT" '"messages":5'
expect "stat --json: in use" has "$OUT" '"in_use":true'
check "recv --count 2" 0 recv "$R" --count 2
expect "recv --count 2: the two arguments" test "$OUT" = $'resize img-001.png\ntwo words'
check "recv the rest" 0 recv "$R"
# stdin in text mode: CR LF is one newline; a lone CR stays a CR (escaped as \r)
expect "recv: escaped lines" test "$OUT" = $'tab\\there\nbell\\x07\ncrlf'
check_soon "recv: nothing left, the producer closed" 6 recv "$R"

# --binary: records with CR, LF and NUL bytes go through unchanged (binary stdin and stdout)
python3 - "$TMP/rec.in" <<'PY'
import struct, sys
msgs = [b"", b"a\r\nb\n", bytes(range(256)), b"\x1a\x00end"]
with open(sys.argv[1], "wb") as f:
    for m in msgs:
        f.write(struct.pack("<I", len(m)) + m)
PY
tool send "$R" --binary <"$TMP/rec.in" >/dev/null 2>"$TMP/err"
expect "send --binary" test $? -eq 0
tool recv "$R" --binary --count 4 >"$TMP/rec.out" 2>"$TMP/err"
expect "recv --binary" test $? -eq 0
expect "--binary: the same bytes back" cmp "$TMP/rec.in" "$TMP/rec.out"

stop "$HOLD"
expect "the last process closed: the ring is gone" wait_for gone "$R"

# recv --follow: a consumer waiting on a new ring while a producer arrives, sends and leaves
F="$P-follow"
start fhold create "$F" --hold
FHOLD=$LAST
expect "create --hold (second ring)" wait_for exists "$F"
start follow recv "$F" --follow --timeout 20
FOLLOW=$LAST
expect "recv --follow: attached" wait_for stat_has "$F" '"consumer":{"pid":[0-9]*,"alive":true'
seq 1 100 | tool send "$F" >/dev/null 2>&1
wait "$FOLLOW"
RC=$?
expect "recv --follow: exit 6 once the producer left" test "$RC" -eq 6
expect "recv --follow: 100 lines in order" cmp -s <(seq 1 100) <(tr -d '\r' <"$TMP/follow.out")
stop "$FHOLD"

# ---- a multi-producer ring: two producers at once --------------------------------------------
M="$P-mp"
start mphold create "$M" --producers 4 --hold
MPHOLD=$LAST
expect "create --producers 4 --hold" wait_for exists "$M"
check "stat: a multi-producer ring" 0 stat "$M"
expect "stat: kind" has "$OUT" "multi-producer ring"
expect "stat: slots" has "$OUT" "of 4 slots"
# Producer a reads its lines from a FIFO: it is attached (a live slot) while producer b sends
# all of its lines and while the consumer runs, so the two overlap for certain.
seq 1 200 | sed 's/^/a/' >"$TMP/a.in"
seq 1 200 | sed 's/^/b/' >"$TMP/b.in"
mkfifo "$TMP/a.fifo"
IN="$TMP/a.fifo" start senda send "$M"
A=$LAST
exec 3>"$TMP/a.fifo"
head -n 100 "$TMP/a.in" >&3
expect "producer a attached" wait_for stat_has "$M" '"producers":1,'
start recvmp recv "$M" --count 400 --timeout 20
RECV=$LAST
tool send "$M" <"$TMP/b.in" >/dev/null 2>&1
RB=$?
check "stat: while a is attached, after b" 0 stat "$M" --json
expect "stat: producer a still live" has "$OUT" '"producers":1,'
tail -n +101 "$TMP/a.in" >&3
exec 3>&-
wait "$A"
RA=$?
expect "two producers sent" test "$RA$RB" = "00"
wait "$RECV"
expect "recv --count 400: exit 0" test $? -eq 0
tr -d '\r' <"$TMP/recvmp.out" >"$TMP/mp.out"
expect "every message of both producers, each in its producer's order" \
  test "$(grep '^a' "$TMP/mp.out")" = "$(cat "$TMP/a.in")" -a \
  "$(grep '^b' "$TMP/mp.out")" = "$(cat "$TMP/b.in")" -a "$(wc -l <"$TMP/mp.out")" -eq 400
check "stat --json (multi-producer)" 0 stat "$M" --json
expect "stat --json: kind mpsc" has "$OUT" '"kind":"mpsc"'
expect "stat --json: 400 received" has "$OUT" '"recv_msgs":400'
stop "$MPHOLD"
expect "the multi-producer ring is gone" wait_for gone "$M"

# ---- the legacy value ------------------------------------------------------------------------
export SHMRING_COMPAT_NAME="$P-value"
start set set "value from shmring.exe" --hold
SET=$LAST
expect "set --hold: the value is there" wait_for value_is "value from shmring.exe"
check "get" 0 get
expect "get: the value" test "$OUT" = "value from shmring.exe"
stop "$SET"
check "get once the holder is gone: empty" 0 get
expect "get: empty" test -z "$OUT"
unset SHMRING_COMPAT_NAME

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
