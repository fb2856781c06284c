/* cli_store.c - opening the database for a subcommand, with the messages an operator
 * acts on, and the file-system helpers the subcommands share. */
#include "tq_cli.h"
#include "tq_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tq_cli_open_store(const char *cmd, const char *dir, int write, int nosync, tq_store **s)
{
    if (dir == NULL)
        return tq_cli_usage(cmd, "needs --db DIR");
    tq_store_holder h;
    memset(&h, 0, sizeof h);
    tq_diag d;
    memset(&d, 0, sizeof d);
    tq_store_opts so = {.command = cmd, .diag = &d};
    const char *ms = getenv("TQ_MAP_SIZE");
    if (ms && *ms)
        so.map_size = strtoull(ms, NULL, 10);
    unsigned flags = (write ? TQ_STORE_WRITE : 0) | (nosync ? TQ_STORE_NOSYNC : 0);
    int rc = tq_store_open(dir, flags, &so, s, &h);
    if (rc == TQ_OK)
        return 0;
    if (rc == TQ_ERR_BUSY) {
        if (h.pid)
            return tq_cli_error(TQ_EXIT_BUSY,
                                "%s: database is busy: '%s' (pid %ld, started %s) is writing "
                                "to it; try again when it has finished",
                                dir, h.command, h.pid, h.started);
        return tq_cli_error(TQ_EXIT_BUSY,
                            "%s: database is busy: another process holds %s/lock; try again "
                            "when it has finished",
                            dir, dir);
    }
    if (rc == TQ_ERR_NOTFOUND)
        return tq_cli_error(TQ_EXIT_INPUT, "%s: no database here (load or replay creates one)",
                            dir);
    /* The store's diag names the path and the system's reason ("DIR/lock: Permission
     * denied", "DIR: Not a directory"); without one, the error code's text. */
    if (rc == TQ_ERR_PERM)
        return tq_cli_error(TQ_EXIT_PERM, "%s: cannot open the database: permission denied%s%s",
                            dir, d.why[0] ? ": " : "", d.why);
    return tq_cli_error(tq_cli_exit_for(rc), "%s: cannot open the database: %s", dir,
                        d.why[0] ? d.why : tq_strerror(rc));
}

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
