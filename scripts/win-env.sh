# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# win-env.sh: sourced by the Windows scripts. Sets the per-machine cache dir (outside the repo)
# and the wine environment every script and test uses. Override with SHMRING_CACHE or WINEPREFIX.
SHMRING_CACHE=${SHMRING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shmring}
export SHMRING_CACHE
export WINEPREFIX=${WINEPREFIX:-$SHMRING_CACHE/wine}
export WINEDEBUG=${WINEDEBUG:--all}
# No GUI: wine must never try to open a window or ask to install Mono/Gecko.
export DISPLAY=
export WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}

# win32_runs: whether this kernel runs 32-bit x86 programs, which wine32 (and so every i686 test)
# needs. Some kernels are built or booted without ia32 emulation: there exec of any 32-bit
# program fails with "Exec format error" (seen on this project's CI machines, kernel 6.18).
# Asks Debian's 32-bit loader for its version: only the shell's "cannot execute" (126) means
# no; any other failure (a missing i386 library, say) must fail the tests loudly, not skip
# them. With another layout, assumes yes.
win32_runs() {
  [ -x /usr/lib/wine/wine ] || return 0
  local rc=0
  /usr/lib/wine/wine --version >/dev/null 2>&1 || rc=$?
  [ "$rc" -ne 126 ]
}

# The 64-bit loader: Debian keeps it in /usr/lib/wine; elsewhere wine64 or wine is on PATH.
wine64_loader() {
  local l
  for l in /usr/lib/wine/wine64 wine64 wine; do
    if command -v "$l" >/dev/null 2>&1; then echo "$l"; return 0; fi
  done
  return 1
}
