/* SPDX-License-Identifier: MIT */
/* The byte copies of the legacy value (see legacy_value.h for why they have a file of their own).
 *
 * LX6 (relaxed, TSan builds only). A seqlock reader races with the writer by design and throws away
 * what it copied when seq moved. ThreadSanitizer cannot know that, so under it the bytes go through
 * relaxed atomics (a byte at a time: slow, but only sanitizer builds pay). */
#include <string.h>

#include "legacy_value.h"

#if defined(__SANITIZE_THREAD__)
#define LV_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LV_TSAN 1
#endif
#endif

void shmring__lv_bytes_in(uint8_t *dst, const char *src, uint64_t n)
{
#ifdef LV_TSAN
    for (uint64_t i = 0; i < n; i++) {
        __atomic_store_n(&dst[i], (uint8_t)src[i], __ATOMIC_RELAXED);
    }
#else
    memcpy(dst, src, (size_t)n);
#endif
}

void shmring__lv_bytes_out(char *dst, const uint8_t *src, uint64_t n)
{
#ifdef LV_TSAN
    for (uint64_t i = 0; i < n; i++) {
        dst[i] = (char)__atomic_load_n(&src[i], __ATOMIC_RELAXED);
    }
#else
    memcpy(dst, src, (size_t)n);
#endif
}
