/* SPDX-License-Identifier: MIT */
/* Read-only view of a named mapping: maps it PROT_READ from an O_RDONLY descriptor, validates
 * the header without trusting it, and asks the kernel's locks who is alive. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ring.h"
#include "ring_mp.h"
#include "view.h"

/* Walking more records than this is not "cheap": the count is then reported as unknown. */
#define WALK_LIMIT (1u << 20)

static void read_peer(int fd, _Atomic int32_t *pid, _Atomic uint32_t *state, int lock_byte,
                      struct view_peer *out)
{
    /* Relaxed: informational fields; the lock below is the liveness truth. */
    out->pid = atomic_load_explicit(pid, memory_order_relaxed);
    out->state = atomic_load_explicit(state, memory_order_relaxed);
    out->alive = shmring__plat_lock_held(fd, lock_byte) == 1;
}

/* Counts the records in [head, tail) the way the consumer would parse them, every length and
 * tag checked against the mapping's bounds. The producer writes only outside [head, tail), so
 * if head did not move during the walk, what we read was stable. -1: unknown. */
static int64_t count_messages(struct shmring__hdr *h, uint64_t cap)
{
    const volatile unsigned char *data = (const unsigned char *)h + SHMRING_HEADER_SIZE;
    for (int attempt = 0; attempt < 3; attempt++) {
        /* Acquire pairs with R2 (consumer publish) and R1 (producer publish): records before
         * tail are complete. */
        uint64_t head = atomic_load_explicit(&h->head, memory_order_acquire);
        uint64_t tail = atomic_load_explicit(&h->tail, memory_order_acquire);
        if (tail - head > cap || head % SHMRING__ALIGN != 0 || tail % SHMRING__ALIGN != 0) {
            return -1;
        }
        uint64_t pos = head, n = 0;
        int bad = 0;
        while (pos != tail && !bad) {
            uint64_t off = pos % cap, to_end = cap - off, avail = tail - pos;
            const volatile struct shmring__rec *rec = (const volatile void *)(data + off);
            uint32_t len = rec->len, tag = rec->tag; /* each read once, then checked */
            if (tag == SHMRING__REC_MSG) {
                uint64_t size = shmring__rec_size(len);
                if (size > to_end || size > avail) {
                    bad = 1;
                }
                pos += size;
                n++;
            } else if (tag == SHMRING__REC_PAD && len == to_end - SHMRING__REC_HDR &&
                       to_end <= avail) {
                pos += to_end;
            } else {
                bad = 1;
            }
            if (n > WALK_LIMIT) {
                return -1;
            }
        }
        /* Acquire: orders the record reads above before this re-check. */
        atomic_thread_fence(memory_order_acquire);
        uint64_t head2 = atomic_load_explicit(&h->head, memory_order_relaxed);
        if (head2 == head) {
            return bad ? -1 : (int64_t)n;
        }
    }
    return -1; /* the consumer kept moving: a count would be stale anyway */
}

static void read_header(int fd, struct shmring__hdr *h, uint64_t size, struct view_info *info)
{
    struct shmring_stats *s = &info->stats;
    info->flags = h->flags;
    info->generation = atomic_load_explicit(&h->generation, memory_order_relaxed);
    read_peer(fd, &h->producer_pid, &h->producer_state, SHMRING__LOCK_PRODUCER, &info->producer);
    read_peer(fd, &h->consumer_pid, &h->consumer_state, SHMRING__LOCK_CONSUMER, &info->consumer);
    /* Relaxed snapshot of single-writer counters, exactly as shmring_stats() takes it. */
    s->sent_msgs = atomic_load_explicit(&h->sent_msgs, memory_order_relaxed);
    s->sent_bytes = atomic_load_explicit(&h->sent_bytes, memory_order_relaxed);
    s->recv_msgs = atomic_load_explicit(&h->recv_msgs, memory_order_relaxed);
    s->recv_bytes = atomic_load_explicit(&h->recv_bytes, memory_order_relaxed);
    s->full_events = atomic_load_explicit(&h->full_events, memory_order_relaxed);
    s->empty_events = atomic_load_explicit(&h->empty_events, memory_order_relaxed);
    s->producer_sleeps = atomic_load_explicit(&h->producer_sleeps, memory_order_relaxed);
    s->consumer_sleeps = atomic_load_explicit(&h->consumer_sleeps, memory_order_relaxed);
    s->wakeups = atomic_load_explicit(&h->wakeups, memory_order_relaxed);
    s->producer_pid = info->producer.alive ? info->producer.pid : 0;
    s->consumer_pid = info->consumer.alive ? info->consumer.pid : 0;
    s->size = size;
    s->capacity = size - SHMRING_HEADER_SIZE;
    s->max_msg = shmring__max_msg_for(s->capacity);
    s->flags = (info->flags & SHMRING__F_PERSIST) ? SHMRING_PERSIST : 0;
    info->messages = -1;
    if (info->flags & SHMRING__F_LEGACY) {
        /* Relaxed: a length for display; the seqlock protocol is the reader's business. */
        uint64_t cur = atomic_load_explicit(&h->legacy_cur, memory_order_relaxed);
        info->legacy_bytes = cur & 0xffffffffu;
        return;
    }
    s->head = atomic_load_explicit(&h->head, memory_order_relaxed);
    s->tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
    struct shmring__mp_view mv;
    int mp = shmring__mp_view_init(&mv, h, size) == 0;
    if (mp) {
        /* A multi-producer ring (docs/mpsc.md): the claim word is its tail, the slots hold the
         * producers' counters. Records are committed one by one, so they are not counted. */
        s->capacity = mv.cap;
        s->max_msg = mv.max_msg;
        s->tail = atomic_load_explicit(&mv.ext->claim, memory_order_relaxed);
        s->kind = SHMRING_KIND_MPSC;
        s->max_producers = mv.nslots;
        s->flags |= SHMRING_MULTI_PRODUCER;
        s->sent_msgs = s->sent_bytes = s->full_events = s->producer_sleeps = 0;
        for (uint32_t k = 0; k < mv.nslots; k++) {
            struct shmring__mp_slot *sl = &mv.slots[k];
            /* Relaxed: single-writer counters, as above. */
            s->sent_msgs += atomic_load_explicit(&sl->sent_msgs, memory_order_relaxed);
            s->sent_bytes += atomic_load_explicit(&sl->sent_bytes, memory_order_relaxed);
            s->full_events += atomic_load_explicit(&sl->full_events, memory_order_relaxed);
            s->producer_sleeps += atomic_load_explicit(&sl->sleeps, memory_order_relaxed);
            if (atomic_load_explicit(&sl->state, memory_order_relaxed) == SHMRING__PEER_ATTACHED &&
                shmring__plat_lock_held(fd, SHMRING__LOCK_SLOT0 + (int)k) == 1) {
                s->producers++;
            }
        }
    }
    s->used_bytes = s->tail - s->head;
    if (s->used_bytes > s->capacity) { /* torn snapshot (head read after a later tail) */
        s->used_bytes = 0;
    }
    info->messages = mp ? -1 : count_messages(h, s->capacity);
}

int view_load(const char *name, struct view_info *info)
{
    char path[SHMRING_NAME_MAX + 2];
    int r = shmring__seg_path(name, path);
    if (r < 0) {
        return r;
    }
    memset(info, 0, sizeof *info);
    info->check = -EPROTO;
    info->messages = -1;
    /* O_NOFOLLOW: a planted symlink must not make us read something else. O_NONBLOCK: a
     * planted FIFO must not block us (opening one for reading waits for a writer). */
    int fd = shm_open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0) {
        return errno == ELOOP || errno == EINVAL || errno == EISDIR ? -EACCES : -errno;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return -EACCES; /* a FIFO, device or directory: not a ring */
    }
    if ((r = shmring__plat_fstat(fd, &info->st)) < 0) {
        close(fd);
        return r;
    }
    info->in_use = shmring__plat_lock_held(fd, SHMRING__LOCK_ATTACH) == 1;
    uint64_t size = info->st.size;
    long page = shmring__plat_page_size();
    if (size >= SHMRING_DEFAULT_SIZE && size <= SHMRING_MAX_SIZE && size % (uint64_t)page == 0) {
        void *base = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
        if (base != MAP_FAILED) {
            info->check = shmring__ring_check(base, size);
            if (info->check == 0) {
                read_header(fd, base, size, info);
            }
            munmap(base, (size_t)size);
        }
    }
    close(fd);
    return 0;
}

const char *view_peer_text(const struct view_peer *p, char buf[64])
{
    if (p->alive && p->pid != 0) {
        snprintf(buf, 64, "pid %d, alive", (int)p->pid);
    } else if (p->alive) {
        snprintf(buf, 64, "alive, pid not recorded yet");
    } else if (p->pid != 0) {
        /* The role lock is gone but the pid was never cleared: it ended without closing. */
        snprintf(buf, 64, "pid %d, dead", (int)p->pid);
    } else {
        snprintf(buf, 64, "none");
    }
    return buf;
}

const char *view_peer_state(const struct view_peer *p)
{
    switch (p->state) {
    case SHMRING__PEER_NEVER:
        return "never";
    case SHMRING__PEER_ATTACHED:
        return "attached";
    case SHMRING__PEER_CLOSED:
        return "closed";
    default:
        return "unknown";
    }
}

void view_json_start(const char *name, const struct view_info *info)
{
    const struct shmring_stats *s = &info->stats;
    int legacy = (info->flags & SHMRING__F_LEGACY) != 0;
    printf("{\"name\":");
    cli_json_str(stdout, name);
    printf(",\"kind\":\"%s\",\"persistent\":%s,\"in_use\":%s",
           legacy                         ? "legacy"
           : s->kind == SHMRING_KIND_MPSC ? "mpsc"
                                          : "ring",
           s->flags & SHMRING_PERSIST ? "true" : "false", info->in_use ? "true" : "false");
    if (s->kind == SHMRING_KIND_MPSC) {
        printf(",\"producers\":%u,\"max_producers\":%u", s->producers, s->max_producers);
    }
    printf(",\"size\":%" PRIu64 ",\"capacity\":%" PRIu64 ",\"max_msg\":%" PRIu64, s->size,
           s->capacity, s->max_msg);
    if (legacy) {
        printf(",\"value_bytes\":%" PRIu64, info->legacy_bytes);
    } else {
        printf(",\"used_bytes\":%" PRIu64 ",\"messages\":", s->used_bytes);
        if (info->messages >= 0) {
            printf("%" PRId64, info->messages);
        } else {
            printf("null");
        }
    }
}

void view_json_peer(const char *key, const struct view_peer *p)
{
    printf("\"%s\":{\"pid\":%d,\"alive\":%s,\"state\":\"%s\"}", key, (int)p->pid,
           p->alive ? "true" : "false", view_peer_state(p));
}

int view_fail_check(const char *what, const struct view_info *info)
{
    if (info->check == -EAGAIN) {
        cli_msg("%s: not a shmring mapping, or one whose creator has not finished (or died while "
                "creating it)",
                what);
        return CLI_PROTO;
    }
    return cli_fail(what, info->check);
}
