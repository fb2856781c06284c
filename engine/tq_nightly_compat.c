/* tq_nightly_compat.c - TEMPORARY stand-ins so that the nightly job builds before the
 * modules it uses land on main (formats/tq_out.c, formats/tq_lock.c from the "output"
 * and "journal" helpers).  Each block compiles only while the real source is absent
 * (__has_include on the .c file, which is on the include path).  Delete this file once
 * both are merged.
 *
 * They are minimal on purpose: enough for the nightly job's own use, not the contract's
 * every case. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tq_error.h"

/* Keeps this translation unit non-empty once both modules have landed. */
typedef int tq_nightly_compat_unused;

#if !__has_include("tq_lock.c")
#include "tq_lock.h"

int tq_lock_acquire(tq_lock *l, const char *path, const char *command,
                    tq_lock_holder *busy, tq_diag *d)
{
    l->fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (l->fd < 0) {
        int e = errno;
        tq_diag_set(d, "(lock)", "%s: %s", path, strerror(e));
        return e == EACCES || e == EPERM ? TQ_ERR_PERM : e == ELOOP ? TQ_ERR_INPUT : TQ_ERR_IO;
    }
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
        if (busy)
            tq_lock_read_holder(path, busy);
        close(l->fd);
        l->fd = -1;
        return TQ_ERR_BUSY;
    }
    l->path = strdup(path);
    if (ftruncate(l->fd, 0) == 0)
        dprintf(l->fd, "%ld %s -\n", (long)getpid(), command ? command : "");
    return TQ_OK;
}

void tq_lock_release(tq_lock *l)
{
    if (l->path == NULL)
        return;
    if (ftruncate(l->fd, 0) != 0) {
        /* nothing to do: the lock goes with the descriptor */
    }
    close(l->fd);
    l->fd = -1;
    free(l->path);
    l->path = NULL;
}

int tq_lock_read_holder(const char *path, tq_lock_holder *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return TQ_ERR_NOTFOUND;
    if (fscanf(f, "%ld %127s", &out->pid, out->command) < 1)
        out->pid = 0;
    fclose(f);
    return TQ_OK;
}
#endif

#if !__has_include("tq_out.c")
#include "tq_out.h"

int tq_out_open(tq_out *o, const char *path, unsigned flags, tq_diag *d)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    size_t n = strlen(path);
    if (n == 0)
        return tq_diag_set(d, "(output)", "empty path");
    struct stat st;
    if ((flags & TQ_OUT_NO_CLOBBER) && lstat(path, &st) == 0)
        return TQ_ERR_EXISTS;
    char *copy = strdup(path), *tmp = malloc(n + 32);
    if (copy == NULL || tmp == NULL) {
        free(copy);
        free(tmp);
        return TQ_ERR_NOMEM;
    }
    snprintf(tmp, n + 32, "%s.tmp-%ld", path, (long)getpid());
    o->fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 (flags & TQ_OUT_PRIVATE) ? 0600 : 0644);
    if (o->fd < 0) {
        int e = errno;
        tq_diag_set(d, "(output)", "%s: %s", path, strerror(e));
        free(copy);
        free(tmp);
        return e == EACCES || e == EPERM || e == EROFS ? TQ_ERR_PERM
               : e == ENOSPC ? TQ_ERR_FULL : TQ_ERR_IO;
    }
    o->path = copy;
    o->tmp = tmp;
    o->owns_fd = 1;
    return TQ_OK;
}

FILE *tq_out_fp(tq_out *o)
{
    if (o->fp == NULL)
        o->fp = fdopen(dup(o->fd), "w");
    return o->fp;
}

void tq_out_rollback(tq_out *o)
{
    if (o->fp)
        fclose(o->fp);
    if (o->fd >= 0 && o->owns_fd)
        close(o->fd);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
    o->fd = -1;
}

int tq_out_commit(tq_out *o, tq_diag *d)
{
    int bad = 0;
    if (o->fp) {
        bad |= fflush(o->fp) != 0 || ferror(o->fp);
        bad |= fclose(o->fp) != 0;
        o->fp = NULL;
    }
    bad |= fsync(o->fd) != 0;
    if (!bad)
        bad |= rename(o->tmp, o->path) != 0;
    if (bad) {
        int e = errno;
        tq_diag_set(d, "(output)", "%s: %s", o->path, strerror(e));
        tq_out_rollback(o);
        return e == ENOSPC ? TQ_ERR_FULL : e == EACCES ? TQ_ERR_PERM : TQ_ERR_IO;
    }
    free(o->tmp);
    o->tmp = NULL;
    tq_out_rollback(o);
    return TQ_OK;
}
#endif
