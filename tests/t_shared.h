/* SPDX-License-Identifier: MIT */
/* Memory a test shares with its t_spawn_flat children, and environment variables, on every
 * system. POSIX: an anonymous shared mapping, which a forked child inherits at the same address.
 * Windows (no fork): a named paging-file section "Local\shmring-test-<key>", which the child opens
 * by the key carried in its flat argument. */
#ifndef SHMRING_T_SHARED_H
#define SHMRING_T_SHARED_H

#include <stddef.h>
#include <stdlib.h>

/* Flat (a child gets a byte copy): put it in the t_spawn_flat argument. */
struct t_shared {
    char key[120]; /* Windows: the section's name after "Local\shmring-test-" */
    void *addr;    /* POSIX: the mapping (the same in a forked child); Windows: the parent's */
    void *handle;  /* Windows: the parent's section handle (keeps the block until t_shared_free) */
    size_t size;
};

/* Creates size zeroed bytes shared with the children to come; tag makes the key unique (with the
 * pid). Fails the test (CMocka) when it cannot. */
void *t_shared_new(struct t_shared *s, const char *tag, size_t size);
/* In a child: the same bytes (NULL if they cannot be mapped). */
void *t_shared_attach(const struct t_shared *s);
/* Unmaps (in the parent: the block goes with the last process that has it). */
void t_shared_free(struct t_shared *s, void *addr);

/* setenv/unsetenv (the Windows C runtime has _putenv_s: an empty value removes the variable). */
#ifdef _WIN32
#define t_setenv(name, value) _putenv_s((name), (value))
#define t_unsetenv(name)      _putenv_s((name), "")
#else
#define t_setenv(name, value) setenv((name), (value), 1)
#define t_unsetenv(name)      unsetenv(name)
#endif

#endif /* SHMRING_T_SHARED_H */
