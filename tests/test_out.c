/* test_out.c - Criterion suite for the safe output module (formats/tq_out.h), played as
 * an attacker would: devices and links to devices where a file was expected (as root,
 * made with mknod in a temp dir of our own), FIFOs, stdout redirected to a file and to a
 * pipe, symlinks planted at the target and at plausible temporary names, write errors
 * and a full tmpfs.  Every case checks that the old file is unchanged and that no
 * temporary file remains.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tq_out.h"

/* ---- helpers -------------------------------------------------------------------- */

static char dir[256];

static void mkwork(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/tqout.XXXXXX", t && *t ? t : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
}

static void rmwork(void)
{
    char cmd[300];
    umount2(dir, MNT_DETACH);   /* the ENOSPC case mounts a tmpfs here; harmless else */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(out, .init = mkwork, .fini = rmwork);

static char *at(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* slurp() - a file's content (at most 4 KiB) as a string. */
static const char *slurp(const char *path)
{
    static char buf[4096];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return "(missing)";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* temps_left() - entries in dir whose name holds ".tmp" (ours or any). */
static int temps_left(const char *d)
{
    DIR *dd = opendir(d);
    cr_assert_not_null(dd);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL)
        if (strstr(e->d_name, ".tmp-") != NULL)
            n++;
    closedir(dd);
    return n;
}

static int write_all(const char *path, unsigned flags, const char *text, tq_diag *d)
{
    tq_out o;
    int rc = tq_out_open(&o, path, flags, d);
    if (rc != TQ_OK)
        return rc;
    FILE *f = tq_out_fp(&o);
    cr_assert_not_null(f);
    fputs(text, f);
    return tq_out_commit(&o, d);
}

static void need_root(void)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (mknod, mount)");
}

/* ---- regular files -------------------------------------------------------------- */

Test(out, new_file_gets_content_and_umask_mode)
{
    mode_t old = umask(022);
    tq_diag d = {0};
    cr_assert_eq(write_all(at("a.csv"), 0, "hello\n", &d), TQ_OK, "%s", d.why);
    umask(old);
    cr_assert_str_eq(slurp(at("a.csv")), "hello\n");
    struct stat sb;
    cr_assert_eq(stat(at("a.csv"), &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0644);
    cr_assert_eq(temps_left(dir), 0);
}

Test(out, private_file_is_0600)
{
    tq_diag d = {0};
    cr_assert_eq(write_all(at("p"), TQ_OUT_PRIVATE, "x", &d), TQ_OK);
    struct stat sb;
    cr_assert_eq(stat(at("p"), &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0600);
}

Test(out, replacement_keeps_mode_and_inode_changes)
{
    put(at("r"), "old\n");
    cr_assert_eq(chmod(at("r"), 0640), 0);
    struct stat before, after;
    cr_assert_eq(stat(at("r"), &before), 0);
    tq_diag d = {0};
    cr_assert_eq(write_all(at("r"), 0, "new\n", &d), TQ_OK);
    cr_assert_eq(stat(at("r"), &after), 0);
    cr_assert_str_eq(slurp(at("r")), "new\n");
    cr_assert_eq(after.st_mode & 0777, 0640);
    cr_assert_neq(before.st_ino, after.st_ino, "replaced by rename, not rewritten in place");
    cr_assert_eq(temps_left(dir), 0);
}

Test(out, rollback_keeps_old_file_and_leaves_no_temp)
{
    put(at("r"), "old\n");
    tq_out o;
    cr_assert_eq(tq_out_open(&o, at("r"), 0, NULL), TQ_OK);
    cr_assert_not_null(o.tmp);
    cr_assert_eq(tq_out_write(&o, "partial", 7), TQ_OK);
    cr_assert_eq(temps_left(dir), 1);
    tq_out_rollback(&o);
    tq_out_rollback(&o);   /* twice is safe */
    cr_assert_str_eq(slurp(at("r")), "old\n");
    cr_assert_eq(temps_left(dir), 0);
    tq_out z;
    memset(&z, 0, sizeof z);
    tq_out_rollback(&z);   /* a zeroed one too */
}

Test(out, no_clobber_refuses_existing_file)
{
    put(at("r"), "old\n");
    tq_diag d = {0};
    cr_assert_eq(write_all(at("r"), TQ_OUT_NO_CLOBBER, "new", &d), TQ_ERR_EXISTS);
    cr_assert_str_eq(slurp(at("r")), "old\n");
    cr_assert_eq(write_all(at("fresh"), TQ_OUT_NO_CLOBBER, "new", &d), TQ_OK);
}

Test(out, directory_and_empty_path_refused)
{
    tq_diag d = {0};
    tq_out o;
    cr_assert_eq(tq_out_open(&o, dir, 0, &d), TQ_ERR_INPUT);
    cr_assert(strstr(d.why, "directory") != NULL, "%s", d.why);
    cr_assert_eq(symlink(dir, at("dirlink")), 0);
    cr_assert_eq(tq_out_open(&o, at("dirlink"), 0, &d), TQ_ERR_INPUT);
    cr_assert_eq(tq_out_open(&o, "", 0, &d), TQ_ERR_INPUT);
    tq_out_rollback(&o);
}

Test(out, missing_directory_and_not_a_directory_say_why)
{
    tq_diag d = {0};
    cr_assert_eq(write_all(at("nodir/x"), 0, "x", &d), TQ_ERR_IO);
    cr_assert(strstr(d.why, "No such file or directory") != NULL, "%s", d.why);
    put(at("file"), "f");
    cr_assert_eq(write_all(at("file/x"), 0, "x", &d), TQ_ERR_IO);
    cr_assert(strstr(d.why, "Not a directory") != NULL, "%s", d.why);
}

Test(out, write_and_fp_mix_in_order)
{
    tq_out o;
    cr_assert_eq(tq_out_open(&o, at("m"), 0, NULL), TQ_OK);
    fputs("one,", tq_out_fp(&o));
    cr_assert_eq(tq_out_write(&o, "two,", 4), TQ_OK);
    fputs("three\n", tq_out_fp(&o));
    cr_assert_eq(tq_out_commit(&o, NULL), TQ_OK);
    cr_assert_str_eq(slurp(at("m")), "one,two,three\n");
}

/* ---- links ---------------------------------------------------------------------- */

Test(out, symlink_to_regular_file_is_replaced_not_followed)
{
    put(at("victim"), "precious\n");
    cr_assert_eq(symlink(at("victim"), at("out.csv")), 0);
    tq_diag d = {0};
    cr_assert_eq(write_all(at("out.csv"), 0, "mine\n", &d), TQ_OK, "%s", d.why);
    cr_assert_str_eq(slurp(at("victim")), "precious\n");
    struct stat sb;
    cr_assert_eq(lstat(at("out.csv"), &sb), 0);
    cr_assert(S_ISREG(sb.st_mode), "the link itself was replaced by a regular file");
    cr_assert_str_eq(slurp(at("out.csv")), "mine\n");
}

Test(out, dangling_symlink_replaced_target_never_created)
{
    cr_assert_eq(symlink(at("nowhere"), at("out.csv")), 0);
    cr_assert_eq(write_all(at("out.csv"), 0, "mine\n", NULL), TQ_OK);
    struct stat sb;
    cr_assert_eq(lstat(at("nowhere"), &sb), -1, "the link's target must not be created");
    cr_assert_eq(lstat(at("out.csv"), &sb), 0);
    cr_assert(S_ISREG(sb.st_mode));
}

Test(out, symlink_loop_replaced)
{
    cr_assert_eq(symlink(at("loop"), at("loop")), 0);
    cr_assert_eq(write_all(at("loop"), 0, "x", NULL), TQ_OK);
    cr_assert_str_eq(slurp(at("loop")), "x");
}

Test(out, planted_links_at_plausible_temp_names_never_followed)
{
    /* The old module wrote OUT.tmp.<pid>; git-like tools write .OUT.tmp or OUT.lock.
     * Plant links at all of them, for the next pids too. */
    put(at("victim"), "precious\n");
    pid_t me = getpid();
    char name[128];
    for (int i = 0; i < 64; i++) {
        snprintf(name, sizeof name, "out.csv.tmp.%ld", (long)me + i);
        cr_assert_eq(symlink(at("victim"), at(name)), 0);
    }
    cr_assert_eq(symlink(at("victim"), at(".out.csv.tmp")), 0);
    cr_assert_eq(symlink(at("victim"), at("out.csv.lock")), 0);
    cr_assert_eq(symlink(at("victim"), at(".out.csv.tmp-000000")), 0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(write_all(at("out.csv"), 0, "mine\n", NULL), TQ_OK);
    cr_assert_str_eq(slurp(at("victim")), "precious\n");
}

Test(out, temp_names_are_random_and_exclusive)
{
    /* Many outputs open on the same target at once: each gets its own temp, created
     * exclusively (a name taken by another is never shared or truncated). */
    enum { N = 200 };
    static tq_out o[N];
    for (int i = 0; i < N; i++) {
        cr_assert_eq(tq_out_open(&o[i], at("same.csv"), 0, NULL), TQ_OK);
        const char *base = strrchr(o[i].tmp, '/') + 1;
        cr_assert(strncmp(base, ".same.csv.tmp-", 14) == 0, "%s", base);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(o[i].tmp, o[j].tmp);
        char tag[16];
        snprintf(tag, sizeof tag, "%d\n", i);
        cr_assert_eq(tq_out_write(&o[i], tag, strlen(tag)), TQ_OK);
    }
    cr_assert_eq(temps_left(dir), N);
    for (int i = 0; i < N; i++)
        if (i == 7)
            cr_assert_eq(tq_out_commit(&o[i], NULL), TQ_OK);
        else
            tq_out_rollback(&o[i]);
    cr_assert_str_eq(slurp(at("same.csv")), "7\n");
    cr_assert_eq(temps_left(dir), 0);
}

/* ---- devices, FIFOs, descriptors ------------------------------------------------ */

Test(out, char_device_stays_a_device)
{
    need_root();
    /* a private copy of /dev/null (1,3): whatever we write is discarded */
    cr_assert_eq(mknod(at("null"), S_IFCHR | 0666, makedev(1, 3)), 0, "%s", strerror(errno));
    cr_assert_eq(symlink(at("null"), at("link-to-null")), 0);
    tq_diag d = {0};
    cr_assert_eq(write_all(at("null"), 0, "data\n", &d), TQ_OK, "%s", d.why);
    cr_assert_eq(write_all(at("link-to-null"), 0, "data\n", &d), TQ_OK, "%s", d.why);
    struct stat sb;
    cr_assert_eq(lstat(at("null"), &sb), 0);
    cr_assert(S_ISCHR(sb.st_mode), "the device was replaced");
    cr_assert_eq(sb.st_rdev, makedev(1, 3));
    cr_assert_eq(lstat(at("link-to-null"), &sb), 0);
    cr_assert(S_ISLNK(sb.st_mode), "the link to the device was replaced");
    cr_assert_eq(temps_left(dir), 0);
    /* NO_STREAM refuses it, and still leaves it alone */
    cr_assert_eq(write_all(at("null"), TQ_OUT_NO_STREAM, "x", &d), TQ_ERR_INPUT);
    cr_assert_eq(lstat(at("null"), &sb), 0);
    cr_assert(S_ISCHR(sb.st_mode));
}

Test(out, full_device_write_error_reported)
{
    need_root();
    /* a private /dev/full (1,7): every write fails with ENOSPC */
    cr_assert_eq(mknod(at("full"), S_IFCHR | 0666, makedev(1, 7)), 0, "%s", strerror(errno));
    tq_diag d = {0};
    cr_assert_eq(write_all(at("full"), 0, "data\n", &d), TQ_ERR_FULL, "%s", d.why);
    cr_assert(strstr(d.why, "No space left") != NULL, "%s", d.why);
    tq_out o;
    cr_assert_eq(tq_out_open(&o, at("full"), 0, NULL), TQ_OK);
    cr_assert_eq(tq_out_write(&o, "x", 1), TQ_ERR_FULL);
    cr_assert_eq(tq_out_commit(&o, NULL), TQ_ERR_FULL);
    struct stat sb;
    cr_assert_eq(lstat(at("full"), &sb), 0);
    cr_assert(S_ISCHR(sb.st_mode));
}

Test(out, fifo_with_reader_gets_the_bytes)
{
    cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
    char path[512];
    snprintf(path, sizeof path, "%s", at("fifo"));
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {   /* the reader: copies what it gets into the pipe */
        alarm(10);    /* a FIFO replaced by a file would leave it waiting for a writer */
        close(pfd[0]);
        int fd = open(path, O_RDONLY);
        char buf[256];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            if (write(pfd[1], buf, (size_t)n) != n)
                _exit(2);
        _exit(0);
    }
    close(pfd[1]);
    tq_diag d = {0};
    cr_assert_eq(write_all(path, 0, "through the fifo\n", &d), TQ_OK, "%s", d.why);
    char got[256] = "";
    ssize_t n = read(pfd[0], got, sizeof got - 1);
    cr_assert_gt(n, 0);
    got[n] = '\0';
    cr_assert_str_eq(got, "through the fifo\n");
    int st;
    waitpid(pid, &st, 0);
    close(pfd[0]);
    struct stat sb;
    cr_assert_eq(lstat(path, &sb), 0);
    cr_assert(S_ISFIFO(sb.st_mode), "the FIFO was replaced");
    cr_assert_eq(temps_left(dir), 0);
}

/* in_child() - run write_all(name) in a child whose stdout is fd; @return its status
 * (the child exits with the tq code's negation). */
static int in_child(int fd, const char *name)
{
    fflush(stdout);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        int rc = write_all(name, 0, "to stdout\n", NULL);
        fputs("after\n", stdout);   /* stdout must still be open and usable */
        fflush(stdout);
        _exit(-rc);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

Test(out, stdout_names_redirected_to_a_file)
{
    const char *names[] = {"-", "/dev/stdout", "/proc/self/fd/1", "/dev/fd/1"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int fd = open(at("redir"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        cr_assert_geq(fd, 0);
        struct stat before, after;
        fstat(fd, &before);
        cr_assert_eq(in_child(fd, names[i]), 0, "%s", names[i]);
        close(fd);
        cr_assert_str_eq(slurp(at("redir")), "to stdout\nafter\n", "%s", names[i]);
        cr_assert_eq(stat(at("redir"), &after), 0);
        cr_assert_eq(before.st_ino, after.st_ino, "%s: the file was replaced", names[i]);
    }
    cr_assert_eq(temps_left(dir), 0);
}

Test(out, stdout_names_redirected_to_a_pipe)
{
    const char *names[] = {"-", "/dev/stdout"};
    for (size_t i = 0; i < 2; i++) {
        int p[2];
        cr_assert_eq(pipe(p), 0);
        cr_assert_eq(in_child(p[1], names[i]), 0, "%s", names[i]);
        close(p[1]);
        char got[128] = "";
        ssize_t n = read(p[0], got, sizeof got - 1);
        cr_assert_gt(n, 0);
        got[n] = '\0';
        close(p[0]);
        cr_assert_str_eq(got, "to stdout\nafter\n", "%s", names[i]);
    }
}

Test(out, stdout_closed_or_bad_fd_is_an_error)
{
    tq_out o;
    tq_diag d = {0};
    cr_assert_eq(tq_out_open(&o, "/dev/fd/987", 0, &d), TQ_ERR_IO);
    cr_assert(strstr(d.why, "Bad file descriptor") != NULL, "%s", d.why);
    cr_assert_eq(tq_out_open(&o, "-", TQ_OUT_NO_STREAM, &d), TQ_ERR_INPUT);
}

Test(out, stdout_write_error_is_reported)
{
    /* a pipe whose reader is gone: EPIPE at commit, never silence */
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    close(p[0]);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        tq_out o;
        if (tq_out_open(&o, "-", 0, NULL) != TQ_OK)
            _exit(1);
        fputs("lost\n", tq_out_fp(&o));
        tq_diag d = {0};
        int rc = tq_out_commit(&o, &d);
        _exit(rc == TQ_ERR_IO && strstr(d.why, "Broken pipe") ? 0 : 2);
    }
    close(p[1]);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}

/* ---- errors leave the old file -------------------------------------------------- */

Test(out, full_tmpfs_keeps_old_file_and_no_temp)
{
    need_root();
    if (mount("tqout", dir, "tmpfs", 0, "size=64k") != 0)
        cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
    put(at("report.json"), "old report\n");
    tq_out o;
    tq_diag d = {0};
    cr_assert_eq(tq_out_open(&o, at("report.json"), 0, &d), TQ_OK);
    static char block[1 << 16];
    memset(block, 'x', sizeof block);
    FILE *f = tq_out_fp(&o);
    for (int i = 0; i < 4; i++)
        fwrite(block, 1, sizeof block, f);
    cr_assert_eq(tq_out_commit(&o, &d), TQ_ERR_FULL, "%s", d.why);
    cr_assert(strstr(d.why, "report.json") != NULL, "%s", d.why);
    cr_assert_str_eq(slurp(at("report.json")), "old report\n");
    cr_assert_eq(temps_left(dir), 0);
    /* and tq_out_write reports it as it happens */
    cr_assert_eq(tq_out_open(&o, at("report.json"), 0, &d), TQ_OK);
    int rc = TQ_OK;
    for (int i = 0; i < 4 && rc == TQ_OK; i++)
        rc = tq_out_write(&o, block, sizeof block);
    cr_assert_eq(rc, TQ_ERR_FULL);
    tq_out_rollback(&o);
    cr_assert_str_eq(slurp(at("report.json")), "old report\n");
    cr_assert_eq(temps_left(dir), 0);
}

Test(out, cleanup_signal_removes_live_temps)
{
    tq_out a, b;
    cr_assert_eq(tq_out_open(&a, at("a"), 0, NULL), TQ_OK);
    cr_assert_eq(tq_out_open(&b, at("b"), 0, NULL), TQ_OK);
    cr_assert_eq(temps_left(dir), 2);
    tq_out_cleanup_signal();
    cr_assert_eq(temps_left(dir), 0);
    tq_out_rollback(&a);
    tq_out_rollback(&b);
    /* slots are reused after cleanup and after rollback */
    cr_assert_eq(write_all(at("c"), 0, "c", NULL), TQ_OK);
    cr_assert_str_eq(slurp(at("c")), "c");
}

Test(out, killed_by_signal_after_cleanup_leaves_nothing)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        tq_out o;
        if (tq_out_open(&o, at("r"), 0, NULL) != TQ_OK)
            _exit(1);
        if (tq_out_write(&o, "x", 1) != TQ_OK)
            _exit(1);
        tq_out_cleanup_signal();   /* as the CLI's handler does before dying */
        raise(SIGTERM);
        _exit(2);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    cr_assert_eq(temps_left(dir), 0);
}

Test(out, fsync_dir)
{
    cr_assert_eq(tq_out_fsync_dir(at("x")), TQ_OK);
    cr_assert_eq(tq_out_fsync_dir("relative-name"), TQ_OK);
    cr_assert_eq(tq_out_fsync_dir(at("nodir/x")), TQ_ERR_IO);
}

/* ---- mkdir -p (tq_out_mkdirs) --------------------------------------------------- */

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

Test(out, mkdirs_makes_every_missing_component)
{
    tq_diag d = {0};
    cr_assert_eq(tq_out_mkdirs(at("a/b/c"), 0755, &d), TQ_OK, "%s", d.why);
    cr_expect(is_dir(at("a")) && is_dir(at("a/b")) && is_dir(at("a/b/c")));
    /* again, with a trailing and a doubled slash: what exists is fine */
    cr_expect_eq(tq_out_mkdirs(at("a/b/c/"), 0755, &d), TQ_OK, "%s", d.why);
    cr_expect_eq(tq_out_mkdirs(at("a//b/d"), 0755, &d), TQ_OK, "%s", d.why);
    cr_expect(is_dir(at("a/b/d")));
    struct stat sb;
    mode_t old = umask(022);
    cr_assert_eq(tq_out_mkdirs(at("m/n"), 0777, NULL), TQ_OK);
    umask(old);
    cr_assert_eq(stat(at("m"), &sb), 0);
    cr_expect_eq(sb.st_mode & 07777, 0755, "mode %o: the umask applies", sb.st_mode & 07777);
}

Test(out, mkdirs_file_as_component_or_target_is_not_a_directory)
{
    tq_diag d = {0};
    put(at("f"), "x");
    errno = 0;
    cr_expect_eq(tq_out_mkdirs(at("f/sub"), 0755, &d), TQ_ERR_IO);
    cr_expect_eq(errno, ENOTDIR);
    cr_expect(strstr(d.why, "/f/sub") != NULL, "why names the component: %s", d.why);
    cr_expect_str_eq(d.field, "(output)");
    memset(&d, 0, sizeof d);
    errno = 0;
    cr_expect_eq(tq_out_mkdirs(at("f"), 0755, &d), TQ_ERR_IO, "an existing file is no directory");
    cr_expect_eq(errno, ENOTDIR);
    cr_expect(strstr(d.why, "Not a directory") != NULL, "%s", d.why);
    cr_expect_str_eq(slurp(at("f")), "x");
}

Test(out, mkdirs_symlink_to_directory_followed_dangling_refused)
{
    cr_assert_eq(mkdir(at("real"), 0755), 0);
    cr_assert_eq(symlink(at("real"), at("link")), 0);
    cr_expect_eq(tq_out_mkdirs(at("link/x"), 0755, NULL), TQ_OK);
    cr_expect(is_dir(at("real/x")), "made through the link");
    cr_expect_eq(tq_out_mkdirs(at("link"), 0755, NULL), TQ_OK);
    cr_assert_eq(symlink(at("nowhere"), at("dangling")), 0);
    tq_diag d = {0};
    errno = 0;
    cr_expect_eq(tq_out_mkdirs(at("dangling"), 0755, &d), TQ_ERR_IO);
    cr_expect_eq(errno, ENOENT);
    cr_expect_eq(tq_out_mkdirs(at("dangling/x"), 0755, &d), TQ_ERR_IO);
    cr_expect(access(at("nowhere"), F_OK) != 0, "a dangling link's target is never created");
    cr_expect_eq(tq_out_mkdirs("", 0755, &d), TQ_ERR_INPUT);
}

/* EACCES is TQ_ERR_PERM.  As root the permission bits do not bind, so a child drops to
 * "nobody" first. */
Test(out, mkdirs_permission_denied_is_perm)
{
    cr_assert_eq(chmod(dir, 0755), 0);
    cr_assert_eq(mkdir(at("ro"), 0555), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        tq_diag d = {0};
        int rc = tq_out_mkdirs(at("ro/x/y"), 0755, &d);
        _exit(rc == TQ_ERR_PERM && errno == EACCES && strstr(d.why, "/ro/x") ? 0 : 1);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    cr_expect(!is_dir(at("ro/x")));
}
