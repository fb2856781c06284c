/* cli_count.c - a FILE that counts the lines and bytes written through it, for the
 * summaries of commands whose library writes a stream (export's --json). */
#include "tq_cli.h"

#include <stdlib.h>
#include <string.h>

typedef struct counter {
    FILE *under;
    uint64_t *lines, *bytes;
} counter;

static ssize_t count_write(void *cookie, const char *buf, size_t n)
{
    counter *c = cookie;
    if (fwrite(buf, 1, n, c->under) != n)
        return -1;
    *c->bytes += n;
    for (const char *p = buf, *end = buf + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        (*c->lines)++;
    return (ssize_t)n;
}

static int count_close(void *cookie)
{
    counter *c = cookie;
    int rc = fflush(c->under);
    free(c);
    return rc;
}

FILE *tq_cli_counting(FILE *under, uint64_t *lines, uint64_t *bytes)
{
    counter *c = malloc(sizeof *c);
    if (c == NULL)
        return NULL;
    *c = (counter){under, lines, bytes};
    *lines = *bytes = 0;
    FILE *f = fopencookie(c, "w", (cookie_io_functions_t){.write = count_write,
                                                         .close = count_close});
    if (f == NULL)
        free(c);
    return f;
}
