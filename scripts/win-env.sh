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
