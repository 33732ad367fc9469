/* SPDX-License-Identifier: MIT */
/* One table for every code the library returns, so a code and its text cannot drift apart. */
#include <errno.h>

#include "shmring.h"

struct code_text {
    int code;
    const char *text;
};

static const struct code_text table[] = {
    {0, "success"},
    {EAGAIN, "ring is full or empty; try again later"},
    {EMSGSIZE, "message is larger than the ring allows, or than the receive buffer"},
    {EINVAL, "invalid argument (name, role, size, flags, handle or call order)"},
    {EEXIST, "a ring of that name already exists (SHMRING_EXCL)"},
    {ENOENT, "no ring of that name exists"},
    {EACCES, "permission denied, or the ring belongs to another user"},
    {EPERM, "operation not allowed for this handle's role"},
    {EPROTO, "not a valid shmring mapping of this layout version, or its indices are corrupt"},
    {EBADMSG, "malformed record in the ring (corrupted by a peer)"},
    {EBUSY, "that role is already held by a live process"},
    {EPIPE, "the peer has closed or died"},
    {ETIMEDOUT, "timed out"},
    {EINTR, "interrupted by a signal"},
    {ENOMEM, "out of memory"},
    {ENOSPC, "no space left for the shared-memory object"},
    {EMFILE, "too many open files in this process"},
    {ENFILE, "too many open files in the system"},
    {ENAMETOOLONG, "name too long"},
    {EOWNERDEAD, "a writer died while writing; the value was lost"},
    {ENOSYS, "not supported on this platform"},
    {EOPNOTSUPP, "not supported for this kind of ring"},
};

const char *shmring_strerror(int err)
{
    int code = err < 0 ? -err : err;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (table[i].code == code) {
            return table[i].text;
        }
    }
    return "unknown error";
}
