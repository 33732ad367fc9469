/* SPDX-License-Identifier: MIT */
/* Listing the shared-memory directory. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"
#include "shmdir.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int shmdir_list(char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(SHMDIR_PATH);
    if (d == NULL) {
        return errno == ENOENT ? -ENOSYS : -errno;
    }
    char **v = NULL;
    size_t len = 0, cap = 0;
    int r = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[SHMRING_NAME_MAX + 2];
        if (e->d_type == DT_DIR || shmring__seg_path(e->d_name, path) < 0) {
            continue; /* "." and "..", sub-directories, names a ring cannot have */
        }
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL) {
                r = -ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        if ((v[len] = strdup(e->d_name)) == NULL) {
            r = -ENOMEM;
            break;
        }
        len++;
    }
    closedir(d);
    if (r < 0) {
        shmdir_free(v, len);
        return r;
    }
    if (len > 0) {
        qsort(v, len, sizeof *v, by_name);
    }
    *names = v;
    *n = len;
    return 0;
}

void shmdir_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}
