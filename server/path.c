/*
 * Path splitting (see path.h).
 */
#include "path.h"

#include <string.h>

int path_split(const char *url, char segs[][PATH_SEG_SIZE], int max_segs)
{
    int n = 0;
    const char *p = url;
    while (*p == '/')
        p++;
    while (*p) {
        if (n == max_segs)
            return -1;
        size_t len = (size_t)(strchrnul(p, '/') - p);
        if (len >= PATH_SEG_SIZE)
            return -1;
        memcpy(segs[n], p, len);
        segs[n][len] = '\0';
        n++;
        p += len;
        while (*p == '/')
            p++;
    }
    return n;
}
