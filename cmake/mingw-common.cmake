# SPDX-License-Identifier: MIT
# Shared part of cmake/toolchain-mingw-<arch>.cmake: set SHMRING_MINGW_TRIPLET and
# SHMRING_MINGW_ARCH, then include this file.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_C_COMPILER ${SHMRING_MINGW_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${SHMRING_MINGW_TRIPLET}-g++)
set(CMAKE_RC_COMPILER ${SHMRING_MINGW_TRIPLET}-windres)

# Libraries and headers come from the mingw sysroot and from the CMocka that
# scripts/build-cmocka-mingw.sh builds into the per-machine cache (outside the repo).
if(DEFINED ENV{SHMRING_CACHE})
  set(_shmring_cache "$ENV{SHMRING_CACHE}")
elseif(DEFINED ENV{XDG_CACHE_HOME})
  set(_shmring_cache "$ENV{XDG_CACHE_HOME}/shmring")
else()
  set(_shmring_cache "$ENV{HOME}/.cache/shmring")
endif()
set(CMAKE_FIND_ROOT_PATH /usr/${SHMRING_MINGW_TRIPLET} ${_shmring_cache}/cmocka-${SHMRING_MINGW_ARCH})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# CTest runs the test programs under wine: the wrapper picks the loader for the program's
# machine, uses the cache's wine prefix, returns the program's exit code and puts the build
# tree's DLLs on WINEPATH.
get_filename_component(_shmring_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(CMAKE_CROSSCOMPILING_EMULATOR "${_shmring_root}/scripts/wine-run.sh;--dlls;${CMAKE_BINARY_DIR}")
