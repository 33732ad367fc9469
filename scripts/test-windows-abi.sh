#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-windows-abi.sh: the former name of scripts/test-windows.sh (which now runs all of
# tests/win, the calling-convention proofs included). Kept so existing commands keep working.
exec "$(dirname "$0")/test-windows.sh" "$@"
