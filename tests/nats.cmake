# SPDX-License-Identifier: MIT
# Issue 14: the NATS bridge (bridge/nats), end to end with real nats-server processes on
# loopback (tests/nats/test_nats.sh). Label `nats`; skipped (77) when nats-server or the bridge
# is missing. Counts are scaled for CI (~6 minutes on 2 cores) and overridable, see the script.
if(TARGET shmring-nats)
  add_executable(nats_ringtool nats/ringtool.c)
  target_link_libraries(nats_ringtool PRIVATE shmring_testutil)
  target_compile_options(nats_ringtool PRIVATE ${SHMRING_WARNINGS})
  foreach(case roundtrip kill_out kill_in kill_server cluster behaviours core)
    add_test(NAME test_nats_${case}
      COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/nats/test_nats.sh ${case})
    set_tests_properties(test_nats_${case} PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77
      LABELS nats RUN_SERIAL TRUE
      ENVIRONMENT "BRIDGE=$<TARGET_FILE:shmring-nats>;RINGTOOL=$<TARGET_FILE:nats_ringtool>;SHMRING_TEST_PREFIX=tnats")
  endforeach()
endif()
