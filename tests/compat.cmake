# SPDX-License-Identifier: MIT
# Issue 3: the classic SetSharedMem/GetSharedMem calls. Every test runs real processes.
# Not yet ported to Windows (tests/win builds tests/ with if(WIN32)).
if(WIN32)
  return()
endif()
shmring_add_test(test_compat SOURCES test_compat.c LABELS xproc TIMEOUT 120)
shmring_add_test(test_compat_threads SOURCES test_compat.c ARGS threads LABELS threads TIMEOUT 120)
shmring_add_test(test_compat_stress SOURCES test_compat.c ARGS stress LABELS stress TIMEOUT 180)

# The calls are exported with C linkage and default visibility from both libraries.
add_test(NAME compat_exports
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/compat/check_exports.sh
          $<TARGET_FILE:shmring> $<TARGET_FILE:shmring_static>)
set_tests_properties(compat_exports PROPERTIES LABELS unit TIMEOUT 30)

# The legacy programs of examples/legacy, run as the classic pair: one sets and stays, one
# started afterwards gets and prints. Also built against the static library.
add_executable(compat_legacy_run compat/legacy_run.c)
target_compile_options(compat_legacy_run PRIVATE ${SHMRING_WARNINGS})
set(_legacy_dir ${PROJECT_SOURCE_DIR}/examples/legacy)
foreach(ex setter getter)
  add_executable(compat_legacy_${ex}_static ${_legacy_dir}/${ex}.c)
  target_link_libraries(compat_legacy_${ex}_static PRIVATE shmring_static)
  target_compile_options(compat_legacy_${ex}_static PRIVATE ${SHMRING_WARNINGS})
endforeach()
if(TARGET legacy_setter AND TARGET legacy_getter)
  add_test(NAME compat_legacy_c
    COMMAND compat_legacy_run $<TARGET_FILE:legacy_setter> - $<TARGET_FILE:legacy_getter> -
            "This is a test string")
  set_tests_properties(compat_legacy_c PROPERTIES LABELS xproc TIMEOUT 60
    ENVIRONMENT "SHMRING_COMPAT_NAME=tcompat_legacy_c-dllmemfilemap")
endif()
add_test(NAME compat_legacy_c_static
  COMMAND compat_legacy_run $<TARGET_FILE:compat_legacy_setter_static> -
          $<TARGET_FILE:compat_legacy_getter_static> - "This is a test string")
set_tests_properties(compat_legacy_c_static PROPERTIES LABELS xproc TIMEOUT 60
  ENVIRONMENT "SHMRING_COMPAT_NAME=tcompat_legacy_c_static-dllmemfilemap")

# The Free Pascal caller, built against the freshly built libshmring.so; skipped (77) without
# fpc. It pairs with the C legacy programs of the static build, so it needs no example target.
add_test(NAME compat_legacy_fpc
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/compat/run_fpc.sh ${_legacy_dir}/legacy.pas
          $<TARGET_FILE_DIR:shmring> ${CMAKE_CURRENT_BINARY_DIR}/compat_fpc
          $<TARGET_FILE:compat_legacy_run> $<TARGET_FILE:compat_legacy_setter_static>
          $<TARGET_FILE:compat_legacy_getter_static> "${SHMRING_SANITIZE}")
set_tests_properties(compat_legacy_fpc PROPERTIES LABELS xproc TIMEOUT 120 SKIP_RETURN_CODE 77
  ENVIRONMENT "SHMRING_COMPAT_NAME=tcompat_legacy_fpc-dllmemfilemap")
# The mid-copy pause of test_compat's agents wraps the setter's copy at link time (see the file).
foreach(t test_compat test_compat_threads test_compat_stress)
  target_link_options(${t} PRIVATE -Wl,--wrap=shmring__lv_bytes_in)
endforeach()
