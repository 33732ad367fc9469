# SPDX-License-Identifier: MIT
# The examples are programs a newcomer runs first: each must work end to end.
if(SHMRING_EXAMPLES)
  add_test(NAME example_demo COMMAND demo 0.2)
  add_test(NAME example_pingpong COMMAND pingpong 2000)
  add_test(NAME example_producer_consumer
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_examples.sh $<TARGET_FILE:producer> $<TARGET_FILE:consumer>)
  set_tests_properties(example_demo example_pingpong example_producer_consumer PROPERTIES
    TIMEOUT 60 LABELS "examples;xproc" RUN_SERIAL TRUE)
endif()
