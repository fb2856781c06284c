/* tq_store_backup.c - a consistent, compacted copy of a live database.
 *
 * LMDB copies from one read snapshot (mdb_env_copy2 with MDB_CP_COMPACT), so writers go
 * on meanwhile and the copy is the database at one commit.  The store holds a counted
 * read transaction for the whole copy: no remap of this process can pull the map from
 * under LMDB's own read transaction.  The copy is fsynced, gets its marker, and its
 * directory entry is fsynced too, so a backup that returned TQ_OK survives a power cut.
 */
#include "tq_store_int.h"

#include "../formats/tq_out.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates out_dir, or accepts it when it is an empty directory.  *made says which. */
static int tq__backup_dir(const char *out_dir, int *made, tq_diag *d)
{
    *made = 0;
    if (mkdir(out_dir, 0755) == 0) {
        *made = 1;
        return TQ_OK;
    }
    if (errno != EEXIST)
        return tq__sys(d, out_dir, errno);
    DIR *dh = opendir(out_dir);
    if (dh == NULL)
        return errno == ENOTDIR
                   ? (tq_diag_set(d, "(backup)", "%s exists and is not a directory", out_dir),
                      TQ_ERR_EXISTS)
                   : tq__sys(d, out_dir, errno);
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(dh)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(dh);
    if (!empty) {
        tq_diag_set(d, "(backup)", "%s is not empty: give a new or empty directory", out_dir);
        return TQ_ERR_EXISTS;
    }
    return TQ_OK;
}

static int tq__fsync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno;
    int e = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return e;
}

/* fsync the directory dir itself (tq_out_fsync_dir() syncs the one holding a path). */
static int tq__fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int e = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return e == EINVAL ? 0 : e;     /* a filesystem that cannot sync a directory */
}

static void tq__backup_undo(const char *out_dir, int made)
{
    static const char *const names[] = {"data.mdb", "lock.mdb", TQ_STORE_MARKER,
                                        ".thongquan.db.tmp"};
    char path[4200];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", out_dir, names[i]);
        unlink(path);
    }
    if (made)
        rmdir(out_dir);
}


int tq_store_backup(tq_store *s, const char *out_dir, tq_diag *d)
{
    char data[4200];
    int made, e;
    tq_txn *pin;
    if (out_dir == NULL || strlen(out_dir) > 4000)
        return TQ_ERR_INPUT;
    snprintf(data, sizeof data, "%s/data.mdb", out_dir);
    int rc = tq__backup_dir(out_dir, &made, d);
    if (rc != TQ_OK)
        return rc;
    rc = tq_txn_begin(s, 1, &pin);      /* counted: no remap while LMDB copies */
    if (rc == TQ_OK) {
        e = mdb_env_copy2(s->env, out_dir, MDB_CP_COMPACT);
        tq_txn_abort(pin);
        if (e > 0)
            rc = tq__sys(d, data, e);
        else if (e != MDB_SUCCESS)
            rc = tq__mdb(e);
    }
    if (rc == TQ_OK && (e = tq__fsync_file(data)) != 0)
        rc = tq__sys(d, data, e);
    if (rc == TQ_OK)
        rc = tq__marker_write(out_dir, d);
    if (rc == TQ_OK && (e = tq__fsync_dir(out_dir)) != 0)
        rc = tq__sys(d, out_dir, e);
    if (rc == TQ_OK && made && tq_out_fsync_dir(out_dir) != TQ_OK)  /* its new entry */
        rc = tq__sys(d, out_dir, EIO);
    if (rc != TQ_OK)
        tq__backup_undo(out_dir, made);
    return rc;
}
