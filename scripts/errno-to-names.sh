#!/bin/sh
# SPDX-License-Identifier: MIT
# Rewrites negative errno constants in the OS-neutral library sources (src/*.c, src/*.h; not
# src/unix/ or src/tool/) into the SHMRING_E* names of include/shmring.h: `-EAGAIN` becomes
# `SHMRING_EAGAIN`, `-EOPNOTSUPP` becomes `SHMRING_ENOTSUP`. On POSIX the two are equal, so
# the rewrite changes no behaviour; on Windows errno values differ and only the names are right.
# Idempotent: run it again after merging a branch that brought new `-E...` uses.
#   scripts/errno-to-names.sh [FILE...]     (default: src/*.c src/*.h)
# Prints the `-E...` codes it left alone (no SHMRING_ name exists for them).
set -eu
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then
    set -- src/*.c src/*.h
fi
names='PERM|NOENT|INTR|AGAIN|NOMEM|ACCES|BUSY|EXIST|INVAL|NFILE|MFILE|NOSPC|PIPE|NAMETOOLONG|NOSYS|PROTO|BADMSG|MSGSIZE|TIMEDOUT|OWNERDEAD'
perl -pi -e "s/(?<![A-Za-z0-9_])-E($names)\\b/SHMRING_E\$1/g; s/(?<![A-Za-z0-9_])-EOPNOTSUPP\\b/SHMRING_ENOTSUP/g" "$@"
# The longer names may push a line past the column limit: re-format what we touched (the
# sources are clang-format clean, so this changes nothing else).
if command -v clang-format >/dev/null 2>&1; then
    clang-format -i "$@"
fi
left=$(grep -noE '(^|[^A-Za-z0-9_])-E[A-Z]+\b' "$@" || true)
if [ -n "$left" ]; then
    echo "errno-to-names: left alone (no public name):" >&2
    echo "$left" >&2
fi
