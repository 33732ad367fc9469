# SPDX-License-Identifier: MIT
# Cross build for 32-bit Windows with Debian's mingw-w64; tests run under wine.
#   cmake -S . -B build-win-i686 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-i686.cmake
set(SHMRING_MINGW_TRIPLET i686-w64-mingw32)
set(SHMRING_MINGW_ARCH i686)
set(CMAKE_SYSTEM_PROCESSOR x86)
include(${CMAKE_CURRENT_LIST_DIR}/mingw-common.cmake)
