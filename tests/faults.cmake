# SPDX-License-Identifier: MIT
# Issue #10: faults found when shmring was attacked (a failed create, planted names, dead peers,
# races). One test per fault; the tool path lets fault 2 check `shmring stat` and `ls` too.
# Without the tool (-DSHMRING_TOOL=OFF, as scripts/fuzz.sh configures) the tool checks are skipped.
if(TARGET shmring_tool)
  shmring_add_test(test_faults SOURCES test_faults.c LABELS xproc TIMEOUT 180
    ARGS $<TARGET_FILE:shmring_tool>)
else()
  shmring_add_test(test_faults SOURCES test_faults.c LABELS xproc TIMEOUT 180)
endif()
# Fault 1 needs a small tmpfs of its own: a private mount namespace (root; else exit 77).
# Fault 7 stops a setter half-way through its copy by wrapping the copy at link time.
target_link_options(test_faults PRIVATE -Wl,--wrap=shmring__lv_bytes_in)
shmring_add_test(test_faults_ns SOURCES test_faults_ns.c LABELS xproc TIMEOUT 60)
# Issue #10, second round (the fixes attacked again): a planted socket, cancellation inside open
# and close, a fork during the first SetSharedMem, short timeouts against the spin phase, a first
# set/get call after the exit handlers (must not create the name).
shmring_add_test(test_faults2 SOURCES test_faults2.c LABELS xproc TIMEOUT 120)
