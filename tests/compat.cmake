# SPDX-License-Identifier: MIT
# Issue 3: the classic SetSharedMem/GetSharedMem calls. Every test runs real processes.
# tests/win builds this file for Windows too (under wine): what is registered above the
# if(WIN32) return() line below runs on both systems.
shmring_add_test(test_compat SOURCES test_compat.c LABELS xproc TIMEOUT 120)
shmring_add_test(test_compat_threads SOURCES test_compat.c ARGS threads LABELS threads TIMEOUT 120)
shmring_add_test(test_compat_stress SOURCES test_compat.c ARGS stress LABELS stress TIMEOUT 180)
# The mid-copy pause of test_compat's agents wraps the setter's copy at link time (see the file;
# GNU ld's --wrap works for PE too, i686's leading underscore included).
foreach(t test_compat test_compat_threads test_compat_stress)
  target_link_options(${t} PRIVATE -Wl,--wrap=shmring__lv_bytes_in)
endforeach()
if(WIN32)
  # Under wine every set/get costs several system calls of the role mutex's keeper thread:
  # 200,000 operations per process would take many minutes, so fewer (still thousands of
  # in-place overwrites with 8 processes contending).
  set_property(TEST test_compat_stress APPEND PROPERTY ENVIRONMENT COMPAT_STRESS_OPS=5000)
  # The same for the 4 threads of each of 2 processes (20,000 operations each on POSIX): about
  # 0.5 ms per operation under wine, and an agent must answer within 20 s.
  set_property(TEST test_compat_threads APPEND PROPERTY ENVIRONMENT COMPAT_THREADS_ITERS=2000)
endif()

# The legacy programs of examples/legacy, run as the classic pair: one sets and stays, one
# started afterwards gets and prints. Also built against the static library.
add_executable(compat_legacy_run compat/legacy_run.c)
target_compile_options(compat_legacy_run PRIVATE ${SHMRING_WARNINGS})
target_include_directories(compat_legacy_run PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}) # t_create_process_win.h
set(_legacy_dir ${PROJECT_SOURCE_DIR}/examples/legacy)
foreach(ex setter getter)
  add_executable(compat_legacy_${ex}_static ${_legacy_dir}/${ex}.c)
  target_link_libraries(compat_legacy_${ex}_static PRIVATE shmring_static)
  target_compile_options(compat_legacy_${ex}_static PRIVATE ${SHMRING_WARNINGS})
endforeach()
set(_legacy_sfx "")
if(WIN32)
  # Both arches' runs may share a wine session: a name of each arch's own.
  set(_legacy_sfx "-${CMAKE_SYSTEM_PROCESSOR}")
  # tests/win builds no examples: the same programs against shmring.dll.
  foreach(ex setter getter)
    add_executable(compat_legacy_${ex}_dll ${_legacy_dir}/${ex}.c)
    target_link_libraries(compat_legacy_${ex}_dll PRIVATE shmring)
    target_compile_options(compat_legacy_${ex}_dll PRIVATE ${SHMRING_WARNINGS})
  endforeach()
  set(_legacy_setter $<TARGET_FILE:compat_legacy_setter_dll>)
  set(_legacy_getter $<TARGET_FILE:compat_legacy_getter_dll>)
elseif(TARGET legacy_setter AND TARGET legacy_getter)
  set(_legacy_setter $<TARGET_FILE:legacy_setter>)
  set(_legacy_getter $<TARGET_FILE:legacy_getter>)
endif()
if(_legacy_setter)
  add_test(NAME compat_legacy_c
    COMMAND compat_legacy_run ${_legacy_setter} - ${_legacy_getter} - "This is a test string")
  set_tests_properties(compat_legacy_c PROPERTIES LABELS xproc TIMEOUT 60
    ENVIRONMENT "SHMRING_COMPAT_NAME=tcompat_legacy_c-dllmemfilemap${_legacy_sfx}")
endif()
add_test(NAME compat_legacy_c_static
  COMMAND compat_legacy_run $<TARGET_FILE:compat_legacy_setter_static> -
          $<TARGET_FILE:compat_legacy_getter_static> - "This is a test string")
set_tests_properties(compat_legacy_c_static PROPERTIES LABELS xproc TIMEOUT 60
  ENVIRONMENT "SHMRING_COMPAT_NAME=tcompat_legacy_c_static-dllmemfilemap${_legacy_sfx}")

if(WIN32)
  # The same pair across processes with a Delphi 6 program (tests/compat/legacy_delphi.pas:
  # {$mode delphi}, imports with no convention directive = register, compiled for i386-win32 by
  # scripts/build-fpc-win32.sh's FPC) and a C program of the wide calls (compat/legacy_wide.c).
  # The text has e-acute and the euro sign (0xE9 and 0x80 in code page 1252, U+00E9 and U+20AC):
  # the Delphi getter prints bytes above 127 as \xNN, the wide one UTF-16 units as \uNNNN.
  add_executable(compat_legacy_wide compat/legacy_wide.c)
  target_link_libraries(compat_legacy_wide PRIVATE shmring)
  target_compile_options(compat_legacy_wide PRIVATE ${SHMRING_WARNINGS})
  add_dependencies(compat_legacy_wide dllshmem)
  set(_ansi_text "This is a test string: caf\\xe9 \\x805")
  set(_wide_text "This is a test string: caf\\u00e9 \\u20ac5")
  set(_wide $<TARGET_FILE:compat_legacy_wide>)
  set(_run ${CMAKE_CROSSCOMPILING_EMULATOR})
  set(_delphi "")
  if(CMAKE_SIZEOF_VOID_P EQUAL 4 AND FPC_WIN32)
    set(_delphi ${CMAKE_BINARY_DIR}/pascal/legacy_delphi.exe)
    set(_src ${CMAKE_CURRENT_SOURCE_DIR}/compat/legacy_delphi.pas)
    add_custom_command(OUTPUT ${_delphi}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/pascal/legacy_delphi.units
      COMMAND ${FPC_WIN32} -Sew -vw -FU${CMAKE_BINARY_DIR}/pascal/legacy_delphi.units -o${_delphi}
        ${_src}
      DEPENDS ${_src} VERBATIM)
    add_custom_target(compat_legacy_delphi ALL DEPENDS ${_delphi})
    add_dependencies(compat_legacy_delphi shmring)
    # Delphi sets, Delphi started afterwards gets: under the default name dllmemfilemap, as the
    # old programs run (legacy_run checks that OpenFileMappingW fails once both have exited).
    add_test(NAME compat_delphi_pair
      COMMAND compat_legacy_run ${_delphi} set ${_delphi} get "${_ansi_text}")
    set_tests_properties(compat_delphi_pair PROPERTIES RUN_SERIAL TRUE)
  elseif(CMAKE_SIZEOF_VOID_P EQUAL 8 AND SHMRING_WIN_PEER_DIR)
    # The 32-bit Delphi program of the i686 build opposite this 64-bit C program (the i686 build
    # makes it when it finds the same FPC).
    find_program(FPC_WIN32_PEER fpc-win32 HINTS ${_shmring_cache}/fpc-win32/bin NO_CMAKE_FIND_ROOT_PATH)
    if(FPC_WIN32_PEER)
      set(_delphi ${SHMRING_WIN_PEER_DIR}/pascal/legacy_delphi.exe)
      list(APPEND _run --dlls ${SHMRING_WIN_PEER_DIR})
    endif()
  endif()
  if(CMAKE_SIZEOF_VOID_P EQUAL 8 AND SHMRING_WIN_PEER_DIR)
    # A 32-bit setter (the i686 build's test_compat.exe as the agent that stops inside its copy)
    # killed with TerminateProcess among 64-bit getters and setters.
    add_test(NAME test_compat_xarch_kill COMMAND ${CMAKE_CROSSCOMPILING_EMULATOR}
      --dlls ${SHMRING_WIN_PEER_DIR} $<TARGET_FILE:test_compat>)
    set_tests_properties(test_compat_xarch_kill PROPERTIES LABELS xproc TIMEOUT 120 RUN_SERIAL TRUE
      ENVIRONMENT "SHMRING_TEST_PREFIX=ttest_compat_xarch_kill;COMPAT_TEST_FILTER=*midcopy*;COMPAT_PEER_AGENT=${SHMRING_WIN_PEER_DIR}/shmring/tests/test_compat.exe")
  endif()
  set(_tests compat_wide_pair)
  add_test(NAME compat_wide_pair COMMAND compat_legacy_run ${_wide} set ${_wide} get "${_wide_text}")
  if(_delphi)
    add_test(NAME compat_delphi_to_wide
      COMMAND ${_run} $<TARGET_FILE:compat_legacy_run> ${_delphi} set ${_wide} get "${_wide_text}")
    add_test(NAME compat_delphi_to_dllshmem
      COMMAND ${_run} $<TARGET_FILE:compat_legacy_run> ${_delphi} set ${_wide} get-dllshmem
              "${_wide_text}")
    add_test(NAME compat_wide_to_delphi
      COMMAND ${_run} $<TARGET_FILE:compat_legacy_run> ${_wide} set ${_delphi} get "${_ansi_text}")
    list(APPEND _tests compat_delphi_to_wide compat_delphi_to_dllshmem compat_wide_to_delphi)
  endif()
  foreach(t ${_tests})
    set_tests_properties(${t} PROPERTIES LABELS xproc TIMEOUT 60
      ENVIRONMENT "SHMRING_COMPAT_NAME=t${t}${_legacy_sfx}")
  endforeach()
  if(TARGET compat_legacy_delphi)
    set_tests_properties(compat_delphi_pair PROPERTIES LABELS xproc TIMEOUT 60)
  endif()
endif()

# POSIX-only below: compat_exports checks ELF symbols with nm (tests/win has its own
# compat_exports for the DLL), compat_legacy_fpc builds legacy.pas with a native fpc.
if(WIN32)
  return()
endif()

# The calls are exported with C linkage and default visibility from both libraries.
add_test(NAME compat_exports
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/compat/check_exports.sh
          $<TARGET_FILE:shmring> $<TARGET_FILE:shmring_static>)
set_tests_properties(compat_exports PROPERTIES LABELS unit TIMEOUT 30)

# The Free Pascal caller, built against the freshly built libshmring.so; skipped (77) without
# fpc. It pairs with the C legacy programs of the static build, so it needs no example target.
add_test(NAME compat_legacy_fpc
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/compat/run_fpc.sh ${_legacy_dir}/legacy.pas
          $<TARGET_FILE_DIR:shmring> ${CMAKE_CURRENT_BINARY_DIR}/compat_fpc
          $<TARGET_FILE:compat_legacy_run> $<TARGET_FILE:compat_legacy_setter_static>
          $<TARGET_FILE:compat_legacy_getter_static> "${SHMRING_SANITIZE}")
set_tests_properties(compat_legacy_fpc PROPERTIES LABELS xproc TIMEOUT 120 SKIP_RETURN_CODE 77
  ENVIRONMENT "SHMRING_COMPAT_NAME=tcompat_legacy_fpc-dllmemfilemap")
