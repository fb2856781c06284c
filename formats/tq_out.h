/* tq_out.h - every file thongquan writes goes through here: replace atomically, or
 * stream into what is not a regular file, and never follow a planted link.
 *
 * The model is git's lockfile/tempfile.  An output path is classified once, at open:
 *   - "-", "/dev/stdout", "/dev/stderr", "/dev/fd/N", "/proc/self/fd/N": the already
 *     open descriptor is written as a stream (never closed, never renamed over);
 *   - a path that exists and is not a regular file (a character or block device, a
 *     FIFO, a socket), or a symlink that leads to one: opened O_WRONLY|O_NOCTTY without
 *     O_CREAT or O_TRUNC and written in place as a stream (fstat() after the open checks
 *     that it still is not a regular file).  A device is never replaced by a regular
 *     file, whoever runs the command;
 *   - a regular file, or a path that does not exist: written to a fresh temporary file
 *     beside the target (".NAME.tmp-XXXXXX", random, created O_CREAT|O_EXCL|O_NOFOLLOW|
 *     O_CLOEXEC, so a link planted at any name is never followed), then tq_out_commit()
 *     flushes, fsyncs, renames it over the target and fsyncs the directory;
 *   - a symlink is never followed for a replacement: a symlink to a regular file, a
 *     dangling one or a loop is itself replaced by the new file (rename() replaces the
 *     name), and its target is left untouched, so a planted link cannot make us
 *     overwrite a victim.  (git follows such links; we do not, on purpose.)
 *     The new file gets the mode of the regular file it replaces (permission bits only),
 *     or 0666 & ~umask (0600 with TQ_OUT_PRIVATE); a temp that replaces a file is
 *     created 0600 and given the old mode, so its content is never more exposed.
 * On any error, and in tq_out_rollback(), the temporary file is removed and the old
 * file stays as it was.  Live temporary files are kept in a list that
 * tq_out_cleanup_signal() empties with async-signal-safe calls only, so a command
 * stopped by SIGINT, SIGTERM or SIGHUP leaves nothing behind.
 *
 * Threads: one tq_out is used by one thread at a time; open, commit and rollback of
 * different outputs may run on different threads (the list is guarded, and signals are
 * blocked while it changes).
 */
#ifndef TQ_OUT_H
#define TQ_OUT_H

#include <stdio.h>
#include <sys/types.h>

#include "tq_error.h"

enum {
    TQ_OUT_NO_CLOBBER = 1u << 0,  /* an existing regular file: TQ_ERR_EXISTS, untouched */
    TQ_OUT_PRIVATE = 1u << 1,     /* a new file gets mode 0600 */
    TQ_OUT_NO_STREAM = 1u << 2    /* refuse (TQ_ERR_INPUT) anything but a regular file or
                                   * a new one: for outputs that must be a real file */
};

typedef struct tq_out {
    int fd;             /* write here (or through tq_out_fp()) */
    int stream;         /* 1: written in place (no temp, no rename) */
    int owns_fd;        /* 1: commit/rollback close fd */
    char *path;         /* the target as given (a link there is replaced), malloc'd */
    char *tmp;          /* the temporary file, NULL when streaming; malloc'd */
    FILE *fp;           /* stdio over fd, made by tq_out_fp(); closed by commit/rollback */
    int err;            /* first error seen (sticky) */
} tq_out;

/* tq_out_open() - classify path as above and open it for writing.  On error nothing is
 * created and *o needs no rollback (it is safe to call anyway).
 * @return TQ_OK; TQ_ERR_EXISTS (TQ_OUT_NO_CLOBBER and a regular file is there);
 *         TQ_ERR_PERM (EACCES/EPERM/EROFS); TQ_ERR_IO (any other failure: d->why holds
 *         the path and strerror); TQ_ERR_FULL (ENOSPC/EDQUOT); TQ_ERR_INPUT (empty path,
 *         a directory or a link to one, or TQ_OUT_NO_STREAM refused a stream);
 *         TQ_ERR_NOMEM.  d may be NULL; its field is "(output)". */
TQ_MUST_USE int tq_out_open(tq_out *o, const char *path, unsigned flags, tq_diag *d);

/* tq_out_fp() - a stdio stream over o->fd (made on first call, fully buffered; for
 * standard output, stdout is flushed first so what the process printed comes before).
 * The stream refers to *o: o must not be moved or copied while it is open.  Write
 * errors (with their reason) are kept in o->err and reported by tq_out_commit().
 * @return NULL only on allocation failure. */
FILE *tq_out_fp(tq_out *o);

/* tq_out_write() - write n bytes to o->fd (after flushing o->fp if there is one),
 * retrying short writes and EINTR.  @return TQ_OK, TQ_ERR_FULL, TQ_ERR_IO (sticky). */
TQ_MUST_USE int tq_out_write(tq_out *o, const void *p, size_t n);

/* tq_out_sync() - make what was written so far durable without finishing: flush o->fp
 * and, for a temporary file, fsync it (a stream is only flushed).  For writers that must
 * know their output is safe before they commit something else (a load's reject file
 * before its database transaction), then tq_out_commit() after.
 * @return TQ_OK, TQ_ERR_FULL, TQ_ERR_IO, TQ_ERR_PERM (sticky; d names the path). */
TQ_MUST_USE int tq_out_sync(tq_out *o, tq_diag *d);

/* tq_out_commit() - finish: flush o->fp, then for a temp file fsync, rename over the
 * target and fsync the directory; for a stream, flush and report any write error
 * (a failed write to stdout is an error, never silence).  o is released either way.
 * @return TQ_OK, TQ_ERR_FULL, TQ_ERR_IO, TQ_ERR_PERM (d names the path and why). */
TQ_MUST_USE int tq_out_commit(tq_out *o, tq_diag *d);

/* tq_out_rollback() - abandon: remove the temporary file, keep the old one; a stream is
 * flushed and left open if it was not ours.  Safe on a zeroed or released tq_out, and
 * twice. */
void tq_out_rollback(tq_out *o);

/* tq_out_cleanup_signal() - unlink every live temporary file.  Async-signal-safe: for
 * signal handlers and fatal paths only. */
void tq_out_cleanup_signal(void);

/* tq_out_fsync_dir() - fsync the directory that holds path (for writers that rename or
 * create files themselves).  @return TQ_OK or TQ_ERR_IO. */
TQ_MUST_USE int tq_out_fsync_dir(const char *path);

/* tq_out_mkdirs() - mkdir -p: create every missing component of path with mode (the
 * umask applies), and succeed only when path then is a directory (or a link to one).
 * The one implementation: the store's directory, the worklist's and the reports'
 * folders all go through it.  A component that exists is used as it is (a symlink to a
 * directory is followed: the operator's layout is theirs to choose; only output files
 * are protected from planted links, by tq_out_open()).
 * @return TQ_OK; TQ_ERR_INPUT for an empty path; TQ_ERR_NOMEM; otherwise tq_errno() of
 *         the failing call (TQ_ERR_PERM for EACCES/EPERM/EROFS, TQ_ERR_FULL, TQ_ERR_IO
 *         for ENOTDIR: a component or path itself is a file, a dangling link or a loop),
 *         with d->field "(output)" and d->why "PATH: strerror" naming the component that
 *         failed.  On failure errno is left as that call set it (ENOTDIR, ENOENT for an
 *         empty path), for callers that word messages from errno.  d may be NULL.
 *         Components made before a failure stay (as with mkdir -p).
 * Threads: any thread; two racing callers both succeed (EEXIST is not an error). */
TQ_MUST_USE int tq_out_mkdirs(const char *path, mode_t mode, tq_diag *d);

#endif
