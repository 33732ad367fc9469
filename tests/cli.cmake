# SPDX-License-Identifier: MIT
# Issue 7: the `shmring` command-line tool, driven by a shell script (every subcommand, its
# error paths, a cross-process round trip). Needs bash and coreutils; 77 = skipped.
if(TARGET shmring_tool)
  add_test(NAME test_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_cli.sh
    $<TARGET_FILE:shmring_tool>)
  # RUN_SERIAL: the bench subcommand spins two processes; alone it stays quick on 2 cores.
  set_tests_properties(test_cli PROPERTIES LABELS cli TIMEOUT 180 SKIP_RETURN_CODE 77
    RUN_SERIAL TRUE)
endif()
