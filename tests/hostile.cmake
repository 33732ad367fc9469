# SPDX-License-Identifier: MIT
# Issue 6: hostile input and faults. Fuzz targets and their regression replays, a scribbling
# peer, permissions and names, and a soak test (label soak: not in the default run).
# See README.md, "Security: hostile peers and other users".

set(SHMRING_FUZZ_TARGETS mapping api)
set(SHMRING_FUZZ_HAVE_COMPAT OFF)
if(EXISTS ${PROJECT_SOURCE_DIR}/src/compat.c)
  set(SHMRING_FUZZ_HAVE_COMPAT ON)
  list(APPEND SHMRING_FUZZ_TARGETS legacy) # the legacy value protocol over heap memory
endif()

# Every fuzz target also builds without libFuzzer (any compiler) with a main() that replays its
# seed corpus and every input that once found a bug (tests/fuzz/regress_<target>/).
foreach(t ${SHMRING_FUZZ_TARGETS})
  add_executable(fuzz_replay_${t} fuzz/fuzz_${t}.c fuzz/replay_main.c)
  target_link_libraries(fuzz_replay_${t} PRIVATE shmring_static)
  target_include_directories(fuzz_replay_${t} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  if(WIN32) # fuzz_obj.h: the section names (platform_win.h), C99 printf
    target_include_directories(fuzz_replay_${t} PRIVATE ${PROJECT_SOURCE_DIR}/src/win)
    target_compile_definitions(fuzz_replay_${t} PRIVATE __USE_MINGW_ANSI_STDIO=1)
  endif()
  target_compile_definitions(fuzz_replay_${t} PRIVATE _GNU_SOURCE)
  target_compile_options(fuzz_replay_${t} PRIVATE ${SHMRING_WARNINGS})
  if(SHMRING_FUZZ_HAVE_COMPAT)
    target_compile_definitions(fuzz_replay_${t} PRIVATE FZ_HAVE_COMPAT)
  endif()
  add_test(NAME fuzz_replay_${t} COMMAND fuzz_replay_${t}
    ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus_${t} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/regress_${t})
  set_tests_properties(fuzz_replay_${t} PROPERTIES TIMEOUT 120 LABELS "unit;fuzz"
    ENVIRONMENT "SHMRING_TEST_PREFIX=tfuzz_replay_${t}")
endforeach()

# A third process scribbles on the header, indices and records while a producer and a consumer
# run: they must only see documented errors or genuine messages, stay alive and never hang.
shmring_add_test(test_scribbler SOURCES test_scribbler.c LABELS xproc TIMEOUT 120)

# Windows (tests/win, under wine): the replays and the scribbler above; what follows is POSIX:
# libFuzzer (clang, ASan), permissions and uids (modes, symlinks), and the soak (fork, SIGKILL).
if(WIN32)
  return()
endif()

if(SHMRING_FUZZ)
  add_subdirectory(fuzz)
endif()

# Permissions and names: creation modes, close-on-exec, symlinks, a held INIT lock; the second
# entry runs the other-user checks (root only: children drop to uid 65534/65533; else skipped).
shmring_add_test(test_perms SOURCES test_perms.c LABELS unit TIMEOUT 60)
add_test(NAME test_perms_other_user COMMAND test_perms --other-user)
set_tests_properties(test_perms_other_user PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77
  LABELS unit ENVIRONMENT "SHMRING_TEST_PREFIX=ttest_perms_other_user")
if(SHMRING_FUZZ_HAVE_COMPAT)
  target_compile_definitions(test_perms PRIVATE TEST_HAVE_COMPAT)
endif()

# Soak: pairs with random sizes, sleeps and peer restarts (SIGKILL and normal close). Label soak:
# excluded from the default run (ctest -LE soak). SHMRING_SOAK_SECONDS sets the time (30 s).
shmring_add_test(test_soak SOURCES test_soak.c LABELS soak TIMEOUT 300)
