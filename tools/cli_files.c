/* cli_files.c - the file-system helpers the subcommands share: mkdir -p for an output
 * directory (formats/tq_out's one mkdir -p, errno kept for the message), and anonymous
 * temporary files in $TMPDIR. */
#include "tq_cli.h"
#include "tq_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tq_cli_mkdirs(const char *dir)
{
    return tq_out_mkdirs(dir, 0777, NULL) == TQ_OK ? 0 : -1;   /* errno says why */
}

FILE *tq_cli_tmpfile(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    if ((size_t)snprintf(path, sizeof path, "%s/thongquan.XXXXXX", dir) >= sizeof path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path); /* anonymous: gone when closed, even if the process is killed */
    FILE *f = fdopen(fd, "w+");
    if (f == NULL)
        close(fd);
    return f;
}
