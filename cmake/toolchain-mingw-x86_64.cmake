# SPDX-License-Identifier: MIT
# Cross build for 64-bit Windows with Debian's mingw-w64; tests run under wine.
#   cmake -S . -B build-win-x86_64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-x86_64.cmake
set(SHMRING_MINGW_TRIPLET x86_64-w64-mingw32)
set(SHMRING_MINGW_ARCH x86_64)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
include(${CMAKE_CURRENT_LIST_DIR}/mingw-common.cmake)
