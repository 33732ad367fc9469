# SPDX-License-Identifier: MIT
# Core tests: the ring protocol over heap memory, opening and validation through the public API,
# cross-process transfer and threaded transfer. See README.md, "What the core tests cover".
shmring_add_test(test_ring SOURCES test_ring.c LABELS unit TIMEOUT 60)
# shmring_strerror knows every SHMRING_E* of the public header, each with its own text.
shmring_add_test(test_error SOURCES test_error.c LABELS unit TIMEOUT 30)
target_compile_definitions(test_error PRIVATE
  SHMRING_PUBLIC_HEADER="${PROJECT_SOURCE_DIR}/include/shmring.h")
# The tests' own child processes (fork on POSIX, the program started again on Windows).
shmring_add_test(test_spawn SOURCES test_spawn.c LABELS unit TIMEOUT 60)
# The public API on real shared memory, one program per concern (helpers in test_open_util.c);
# on Windows without the cases of files, unlink and persistent rings (each says why).
foreach(t test_open_args test_open_validation test_open_lifecycle test_data_calls)
  shmring_add_test(${t} SOURCES ${t}.c test_open_util.c LABELS unit TIMEOUT 60)
endforeach()
# The legacy value protocol over heap memory; the setter's copy is wrapped so it can "die".
shmring_add_test(test_legacy_value SOURCES test_legacy_value.c LABELS unit TIMEOUT 30)
target_link_options(test_legacy_value PRIVATE -Wl,--wrap=shmring__lv_bytes_in)
# The inspection API of include/shmring_admin.h (what the tool stands on); on Windows on rings in
# use (no section outlives its last user), with list and unlink saying SHMRING_ENOSYS.
shmring_add_test(test_admin SOURCES test_admin.c test_open_util.c LABELS unit TIMEOUT 60)
# A producer and a consumer process (t_spawn_flat) that move 10 million messages: ~30 s on 2 idle cores, minutes
# on a loaded one (the children report 20 s without progress themselves, so the long timeout is
# only a backstop); a tenth of the messages under a sanitizer. xproc/stress tests run alone.
if(WIN32)
  # test_xproc_core: tests/win has a target test_xproc of its own (its Windows-only programs).
  shmring_add_test(test_xproc_core SOURCES test_xproc.c LABELS xproc stress TIMEOUT 900)
  # Under wine in CI both arches share a few minutes with every other suite: a twentieth of the
  # messages (50,000 blocking ones, not 1 million), and a fiftieth of the spinning ones (200,000,
  # not 10 million): a spinning side's short sleeps are whole milliseconds there (Sleep), so a
  # spinning message costs more; 1 million took 18-107 s under wine on the loaded 2-core machine.
  set_property(TEST test_xproc_core APPEND PROPERTY ENVIRONMENT SHMRING_XPROC_SCALE=5
    SHMRING_XPROC_SPIN_SCALE=2)
else()
  shmring_add_test(test_xproc SOURCES test_xproc.c LABELS xproc stress TIMEOUT 900)
endif()
# Two spinning threads: alone too, or they starve each other's neighbours on a small machine.
shmring_add_test(test_threads SOURCES test_threads.c LABELS threads TIMEOUT 300)
set_tests_properties(test_threads PROPERTIES RUN_SERIAL TRUE)
if(WIN32)
  target_link_libraries(test_threads PRIVATE pthread) # mingw's winpthreads
  # Under wine: a twentieth of the messages (75,000 copied, not 1.5 million), see test_xproc_core.
  set_property(TEST test_threads APPEND PROPERTY ENVIRONMENT SHMRING_THREADS_SCALE=5)
endif()
# The tests above run on Windows too (tests/win, under wine). public_symbols is POSIX-only: it
# reads an ELF library; tests/win checks the DLLs' exports (abi_exports, compat_exports).
if(WIN32)
  return()
endif()
# libshmring.so exports exactly what the public headers declare.
add_test(NAME public_symbols
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/check_symbols.sh $<TARGET_FILE:shmring>
          ${PROJECT_SOURCE_DIR}/include)
set_tests_properties(public_symbols PROPERTIES LABELS unit TIMEOUT 30 SKIP_RETURN_CODE 77
  ENVIRONMENT "GEN_INC=${SHMRING_GENERATED_INCLUDE};CC=${CMAKE_C_COMPILER}")
