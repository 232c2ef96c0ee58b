/*
 * libFuzzer harness for path_split (server/path.c), the first step of routing every
 * request. It aborts when the splitter disagrees with the plainest reading of the rule
 * (segments are the non-empty runs between slashes; more than the most, or one too long,
 * is a refusal) on the count, on a refusal, or on any segment's bytes. ASan catches a
 * write past a segment.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_SEGS = 4 };

static void fail(const char *what, const char *url)
{
    fprintf(stderr, "fuzz_path: %s (url '%s')\n", what, url);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    size_t len = strlen(url);               /* the request line ends a path at a NUL */
    /* The reference: walk the runs between slashes. */
    int want = 0;
    const char *starts[64];
    size_t lens[64];
    for (size_t i = 0; i < len && want >= 0;) {
        if (url[i] == '/') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && url[j] != '/')
            j++;
        if (want == MAX_SEGS || j - i >= PATH_SEG_SIZE) {
            want = -1;
            break;
        }
        starts[want] = url + i;
        lens[want] = j - i;
        want++;
        i = j;
    }
    char (*segs)[PATH_SEG_SIZE] = malloc(MAX_SEGS * sizeof(*segs));
    if (!segs) {
        free(url);
        return 0;
    }
    int got = path_split(url, segs, MAX_SEGS);
    if (got != want)
        fail("a different number of segments", url);
    for (int k = 0; k < got; k++)
        if (strlen(segs[k]) != lens[k] || memcmp(segs[k], starts[k], lens[k]) != 0)
            fail("a segment differs", url);
    free(segs);
    free(url);
    return 0;
}
