/* SPDX-License-Identifier: MIT */
/* One table for every code the library returns, so a code and its text cannot drift apart. */
#include "shmring.h"

struct code_text {
    int code;
    const char *text;
};

/* Keyed by the public names, which are -errno on POSIX and fixed values on Windows; every
 * SHMRING_E* of include/shmring.h has a line (tests/test_error.c checks it). */
static const struct code_text table[] = {
    {0, "success"},
    {SHMRING_EAGAIN, "ring is full or empty; try again later"},
    {SHMRING_EMSGSIZE, "message is larger than the ring allows, or than the receive buffer"},
    {SHMRING_EINVAL, "invalid argument (name, role, size, flags, handle or call order)"},
    {SHMRING_EEXIST, "a ring of that name already exists (SHMRING_EXCL)"},
    {SHMRING_ENOENT, "no ring of that name exists"},
    {SHMRING_EACCES, "permission denied, or the ring belongs to another user"},
    {SHMRING_EPERM, "operation not allowed for this handle's role"},
    {SHMRING_EPROTO,
     "not a valid shmring mapping of this layout version, or its indices are corrupt"},
    {SHMRING_EBADMSG, "malformed record in the ring (corrupted by a peer)"},
    {SHMRING_EBUSY, "that role is already held by a live process"},
    {SHMRING_EPIPE, "the peer has closed or died"},
    {SHMRING_ETIMEDOUT, "timed out"},
    {SHMRING_EINTR, "interrupted by a signal"},
    {SHMRING_ENOMEM, "out of memory"},
    {SHMRING_ENOSPC, "no space left for the shared-memory object"},
    {SHMRING_EMFILE, "too many open files in this process"},
    {SHMRING_ENFILE, "too many open files in the system"},
    {SHMRING_ENAMETOOLONG, "name too long"},
    {SHMRING_EOWNERDEAD, "a writer died while writing; the value was lost"},
    {SHMRING_ENOSYS, "not supported on this platform"},
    {SHMRING_ENOTSUP, "not supported for this kind of ring"},
};

const char *shmring_strerror(int err)
{
    int code = err > 0 ? -err : err; /* positive codes are accepted too */
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (table[i].code == code) {
            return table[i].text;
        }
    }
    return "unknown error";
}
