/* SPDX-License-Identifier: MIT */
/* The peers a user would otherwise pick: a pipe, a socketpair(AF_UNIX, SOCK_SEQPACKET) and a
 * POSIX message queue, each used the ordinary way (one system call per message, blocking for
 * throughput). For busy-polling round trips they are non-blocking and retried on EAGAIN, as
 * shmring is. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* shm_open, mq_*, MSG_DONTWAIT */
#endif
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.h"

/* ---- helpers: whole messages over descriptors ----------------------------------------------- */

/* Writes all of msg; a pipe write of <= PIPE_BUF bytes is atomic, larger ones may be split. */
static int fd_write(struct bench_ep *e, int fd, const unsigned char *msg, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, msg + done, len - done);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                if (bench_stop) {
                    return bench_fail(e, -ETIMEDOUT, "write");
                }
                continue;
            }
            return bench_fail(e, -errno, "write");
        }
        done += (size_t)w;
    }
    return 0;
}

/* Reads exactly len bytes (a pipe is a byte stream). */
static int fd_read(struct bench_ep *e, int fd, unsigned char *msg, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = read(fd, msg + done, len - done);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                if (bench_stop) {
                    return bench_fail(e, -ETIMEDOUT, "read");
                }
                continue;
            }
            return bench_fail(e, -errno, "read");
        }
        if (r == 0) {
            return bench_fail(e, -EPIPE, "read");
        }
        done += (size_t)r;
    }
    return 0;
}

static void close_fds(struct bench_ep *e)
{
    for (int i = 0; i < 4; i++) {
        if (e->fd[i] >= 0) {
            close(e->fd[i]);
            e->fd[i] = -1;
        }
    }
}

static void close_fds_side(struct bench_ep *e, int child)
{
    (void)child;
    close_fds(e);
}

static int set_nonblock(struct bench_ep *e, int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return bench_fail(e, -errno, "fcntl(O_NONBLOCK)");
    }
    return 0;
}

/* ---- pipe ---------------------------------------------------------------------------------- */

/* fd[0], fd[1]: the pipe parent -> child (read end, write end); fd[2], fd[3]: child -> parent. */
static int pipe_setup(struct bench_ep *e)
{
    for (int i = 0; i < 1 + e->latency; i++) {
        if (pipe(&e->fd[2 * i]) != 0) {
            return bench_fail(e, -errno, "pipe");
        }
    }
    if (e->latency && !e->c.sleeping) {
        for (int i = 0; i < 4; i++) {
            int err = set_nonblock(e, e->fd[i]);
            if (err < 0) {
                return err;
            }
        }
    }
    return 0;
}

/* Each process closes the ends it does not use, so that a dead peer shows as EOF/EPIPE. */
static int pipe_open(struct bench_ep *e, int child)
{
    int unused[2] = {child ? 1 : 0, child ? 2 : 3};
    for (int i = 0; i < 1 + e->latency; i++) {
        close(e->fd[unused[i]]);
        e->fd[unused[i]] = -1;
    }
    return 0;
}

static int pipe_produce(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        bench_stamp(e->buf, e->c.size, seq + i);
        int err = fd_write(e, e->fd[1], e->buf, e->c.size);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

static int pipe_consume(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int err = fd_read(e, e->fd[0], e->buf, e->c.size);
        if (err < 0) {
            return err;
        }
        if (!bench_check(e->buf, e->c.size, seq + i)) {
            return bench_bad(e, e->buf, e->c.size, seq + i);
        }
    }
    return 0;
}

static int pipe_ping(struct bench_ep *e, uint64_t seq)
{
    bench_stamp(e->buf, e->c.size, seq);
    int err = fd_write(e, e->fd[1], e->buf, e->c.size);
    if (err == 0) {
        err = fd_read(e, e->fd[2], e->buf, e->c.size);
    }
    if (err == 0 && !bench_check(e->buf, e->c.size, seq)) {
        err = bench_bad(e, e->buf, e->c.size, seq);
    }
    return err;
}

static int pipe_echo(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int err = fd_read(e, e->fd[0], e->buf, e->c.size);
        if (err == 0 && !bench_check(e->buf, e->c.size, seq + i)) {
            err = bench_bad(e, e->buf, e->c.size, seq + i);
        }
        if (err == 0) {
            err = fd_write(e, e->fd[3], e->buf, e->c.size);
        }
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

const struct bench_ops bench_pipe_ops = {
    pipe_setup, pipe_open, pipe_produce, pipe_consume, pipe_ping, pipe_echo, NULL, close_fds_side,
};

/* ---- socketpair(AF_UNIX, SOCK_SEQPACKET) ------------------------------------------------------
 */

/* fd[0]: the parent's end, fd[1]: the child's; each end sends and receives. */
static int sock_setup(struct bench_ep *e)
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, e->fd) != 0) {
        return bench_fail(e, -errno, "socketpair");
    }
    return 0;
}

static int sock_open(struct bench_ep *e, int child)
{
    close(e->fd[child ? 0 : 1]);
    e->fd[child ? 0 : 1] = -1;
    return 0;
}

static int sock_send(struct bench_ep *e, int fd, uint64_t seq, int stamp)
{
    if (stamp) {
        bench_stamp(e->buf, e->c.size, seq);
    }
    int flags = e->latency && !e->c.sleeping ? MSG_DONTWAIT : 0;
    for (;;) {
        ssize_t w = send(fd, e->buf, e->c.size, flags);
        if (w == (ssize_t)e->c.size) {
            return 0;
        }
        if (w >= 0) {
            return bench_fail(e, -EMSGSIZE, "send (short)");
        }
        if (errno != EAGAIN && errno != EINTR) {
            return bench_fail(e, -errno, "send");
        }
        if (bench_stop) {
            return bench_fail(e, -ETIMEDOUT, "send");
        }
    }
}

static int sock_recv(struct bench_ep *e, int fd, uint64_t seq)
{
    int flags = e->latency && !e->c.sleeping ? MSG_DONTWAIT : 0;
    for (;;) {
        ssize_t r = recv(fd, e->buf, e->c.size, flags);
        if (r >= 0) {
            if ((size_t)r != e->c.size || !bench_check(e->buf, e->c.size, seq)) {
                return r == 0 ? bench_fail(e, -EPIPE, "recv")
                              : bench_bad(e, e->buf, (size_t)r, seq);
            }
            return 0;
        }
        if (errno != EAGAIN && errno != EINTR) {
            return bench_fail(e, -errno, "recv");
        }
        if (bench_stop) {
            return bench_fail(e, -ETIMEDOUT, "recv");
        }
    }
}

static int sock_produce(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int err = sock_send(e, e->fd[0], seq + i, 1);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

static int sock_consume(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int err = sock_recv(e, e->fd[1], seq + i);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

static int sock_ping(struct bench_ep *e, uint64_t seq)
{
    int err = sock_send(e, e->fd[0], seq, 1);
    return err < 0 ? err : sock_recv(e, e->fd[0], seq);
}

static int sock_echo(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int err = sock_recv(e, e->fd[1], seq + i);
        if (err == 0) {
            err = sock_send(e, e->fd[1], seq + i, 0);
        }
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

const struct bench_ops bench_socket_ops = {
    sock_setup, sock_open, sock_produce, sock_consume, sock_ping, sock_echo, NULL, close_fds_side,
};

/* ---- POSIX message queues -------------------------------------------------------------------- */

/* Queue depth: the system's default limit for unprivileged users (fs.mqueue.msg_max, 10 on a
 * stock kernel), which is what an application gets without tuning. */
static long mq_depth(void)
{
    long v = 10;
    FILE *f = fopen("/proc/sys/fs/mqueue/msg_max", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &v) != 1) {
            v = 10;
        }
        fclose(f);
    }
    return v;
}

/* fd[0]: queue parent -> child, fd[1]: child -> parent; descriptors are inherited by fork. */
static int pmq_setup(struct bench_ep *e)
{
    struct mq_attr a;
    memset(&a, 0, sizeof a);
    a.mq_maxmsg = mq_depth();
    a.mq_msgsize = (long)e->c.size;
    int flags = O_RDWR | O_CREAT | O_EXCL | (e->latency && !e->c.sleeping ? O_NONBLOCK : 0);
    for (int i = 0; i < 1 + e->latency; i++) {
        snprintf(e->name[i], sizeof e->name[i], "/shmring-bench-mq-%llx-%d",
                 (unsigned long long)e->id, i);
        mqd_t q = mq_open(e->name[i], flags, 0600, &a);
        if (q == (mqd_t)-1) {
            return bench_fail(e, -errno, "mq_open");
        }
        e->fd[i] = (int)q;
    }
    return 0;
}

static void pmq_close(struct bench_ep *e, int child)
{
    for (int i = 0; i < 2; i++) {
        if (e->fd[i] >= 0) {
            mq_close((mqd_t)e->fd[i]);
            e->fd[i] = -1;
            if (!child) {
                mq_unlink(e->name[i]);
            }
        }
    }
}

static int pmq_send(struct bench_ep *e, int q, uint64_t seq, int stamp)
{
    if (stamp) {
        bench_stamp(e->buf, e->c.size, seq);
    }
    while (mq_send((mqd_t)q, (const char *)e->buf, e->c.size, 0) != 0) {
        if (errno != EAGAIN && errno != EINTR) {
            return bench_fail(e, -errno, "mq_send");
        }
        if (bench_stop) {
            return bench_fail(e, -ETIMEDOUT, "mq_send");
        }
    }
    return 0;
}

static int pmq_recv(struct bench_ep *e, int q, uint64_t seq)
{
    ssize_t r;
    while ((r = mq_receive((mqd_t)q, (char *)e->buf, e->c.size, NULL)) < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            return bench_fail(e, -errno, "mq_receive");
        }
        if (bench_stop) {
            return bench_fail(e, -ETIMEDOUT, "mq_receive");
        }
    }
    if ((size_t)r != e->c.size || !bench_check(e->buf, e->c.size, seq)) {
        return bench_bad(e, e->buf, (size_t)r, seq);
    }
    return 0;
}

static int pmq_produce(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int err = pmq_send(e, e->fd[0], seq + i, 1);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

static int pmq_consume(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int err = pmq_recv(e, e->fd[0], seq + i);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

static int pmq_ping(struct bench_ep *e, uint64_t seq)
{
    int err = pmq_send(e, e->fd[0], seq, 1);
    return err < 0 ? err : pmq_recv(e, e->fd[1], seq);
}

static int pmq_echo(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int err = pmq_recv(e, e->fd[0], seq + i);
        if (err == 0) {
            err = pmq_send(e, e->fd[1], seq + i, 0);
        }
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

const struct bench_ops bench_mq_ops = {
    pmq_setup, NULL, pmq_produce, pmq_consume, pmq_ping, pmq_echo, NULL, pmq_close,
};
