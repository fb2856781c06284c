/* cli_common.c - messages, option parsing, progress, signals and atomic output files
 * shared by the thongquan subcommands. */
#include "tq_cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int tq_cli_quiet = 0;
volatile int tq_cli_stop = 0;
volatile int tq_cli_signal = 0;

int tq_cli_exit_for(int err)
{
    switch (err) {
    case TQ_OK: return TQ_EXIT_OK;
    case TQ_ERR_INPUT: return TQ_EXIT_INPUT;
    case TQ_ERR_BUSY: return TQ_EXIT_BUSY;
    case TQ_ERR_IO:
    case TQ_ERR_FULL: return TQ_EXIT_IO;
    case TQ_ERR_CORRUPT:
    case TQ_ERR_TORN:
    case TQ_ERR_MISMATCH:
    case TQ_ERR_DBCORRUPT:
    case TQ_ERR_VERSION: return TQ_EXIT_CORRUPT;
    case TQ_ERR_PERM: return TQ_EXIT_PERM;
    case TQ_ERR_EXISTS: return TQ_EXIT_USAGE;    /* refused to replace: add --force */
    case TQ_ERR_INTERRUPTED: return 128 + (tq_cli_signal ? tq_cli_signal : SIGINT);
    default: return TQ_EXIT_SOFTWARE;
    }
}

/* A progress line may be on the terminal (drawn by this thread or a watcher thread):
 * a message first erases it, under stderr's lock, so the two never share a line. */
static _Atomic int progress_shown = 0;

static void erase_progress_locked(void)
{
    if (atomic_exchange(&progress_shown, 0))
        fputs("\r\033[K", stderr);
}

static void vmessage(const char *fmt, va_list ap)
{
    flockfile(stderr);
    erase_progress_locked();
    fputs("thongquan: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}

int tq_cli_error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    return status;
}

void tq_cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
}

void tq_cli_diag(const char *file, const tq_diag *d)
{
    flockfile(stderr);
    erase_progress_locked();
    char where[64] = "";
    if (d->line && d->seq)
        snprintf(where, sizeof where, "line %llu (seq %llu): ", (unsigned long long)d->line,
                 (unsigned long long)d->seq);
    else if (d->line)
        snprintf(where, sizeof where, "line %llu: ", (unsigned long long)d->line);
    else if (d->seq)
        snprintf(where, sizeof where, "seq %llu: ", (unsigned long long)d->seq);
    fprintf(stderr, "thongquan: %s: %sfield '%s': %s\n", file, where, d->field, d->why);
    funlockfile(stderr);
}

int tq_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'thongquan %s --help'.\n", cmd);
    return TQ_EXIT_USAGE;
}

static tq_opt *find_opt(tq_opt *opts, const char *name, size_t n)
{
    for (tq_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == n && strncmp(o->name, name, n) == 0)
            return o;
    return NULL;
}

int tq_cli_parse(const char *cmd, int argc, char **argv, tq_opt *opts, const char **pos,
                 int maxpos, int *npos)
{
    int only_pos = 0;
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0))
            return -1;
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            const char *name = a + (a[1] == '-' ? 2 : 1);
            if (a[1] != '-' && strlen(name) != 1)
                return tq_cli_usage(cmd, "unknown option '%s'", a);
            const char *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            tq_opt *o = find_opt(opts, name, n);
            if (o == NULL)
                return tq_cli_usage(cmd, "unknown option '%s'", a);
            if (!o->has_arg) {
                if (eq)
                    return tq_cli_usage(cmd, "option '--%s' takes no value", o->name);
                *o->value = "1";
            } else {
                const char *v;
                if (eq) {
                    v = eq + 1;
                } else {
                    if (i + 1 >= argc)
                        return tq_cli_usage(cmd, "option '%s' needs a value", a);
                    v = argv[++i];
                }
                if (o->has_arg == TQ_OPT_LIST) {
                    int k = 0;
                    while (k < TQ_OPT_LIST_MAX && o->value[k])
                        k++;
                    if (k == TQ_OPT_LIST_MAX)
                        return tq_cli_usage(cmd, "option '--%s' given more than %d times",
                                            o->name, TQ_OPT_LIST_MAX);
                    o->value[k] = v;
                } else {
                    *o->value = v;
                }
            }
            if (strcmp(o->name, "quiet") == 0)
                tq_cli_quiet = 1;
            continue;
        }
        if (*npos >= maxpos)
            return tq_cli_usage(cmd, "unexpected argument '%s'", a);
        pos[(*npos)++] = a;
    }
    return 0;
}

int tq_cli_u64(const char *cmd, const char *name, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (s == NULL || *s < '0' || *s > '9')
        return tq_cli_usage(cmd, "--%s needs a whole number, got '%s'", name, s ? s : "");
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0')
        return tq_cli_usage(cmd, "--%s needs a whole number, got '%s'", name, s);
    *out = v;
    return 0;
}

double tq_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tq_progress_init(tq_progress *p, const char *what)
{
    p->what = what;
    p->start = p->last = tq_cli_now();
    p->active = !tq_cli_quiet && isatty(STDERR_FILENO);
    p->drawn = 0;
    p->note[0] = '\0';
}

/* human_bytes() - "512 B", "12.3 KiB", "4.56 MiB", "1.23 GiB". */
static void human_bytes(double v, char *out, size_t cap)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(out, cap, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
}

/* Redraw at most 4 times a second, and not in the first quarter second, so a quick
 * command never flashes a line. */
static int progress_due(tq_progress *p, double *now)
{
    if (!p->active)
        return 0;
    *now = tq_cli_now();
    if (*now - p->last < 0.25)
        return 0;
    p->last = *now;
    p->drawn = 1;
    return 1;
}

void tq_progress_update(tq_progress *p, uint64_t done, uint64_t total, const char *unit)
{
    double now;
    if (!progress_due(p, &now))
        return;
    double el = now - p->start;
    double rate = el > 0 ? (double)done / el : 0;
    if (total && done > total)
        total = done;
    flockfile(stderr);
    fprintf(stderr, "\r\033[K%s: ", p->what);
    if (unit == TQ_PROGRESS_BYTES) {
        char a[32], b[32], r[32];
        human_bytes((double)done, a, sizeof a);
        human_bytes(rate, r, sizeof r);
        if (total) {
            human_bytes((double)total, b, sizeof b);
            fprintf(stderr, "%s of %s (%.0f%%), %s/s", a, b, 100.0 * (double)done / (double)total,
                    r);
        } else {
            fprintf(stderr, "%s, %s/s", a, r);
        }
    } else {
        char a[32], b[32];
        fputs(tq_cli_group(done, a), stderr);
        if (total)
            fprintf(stderr, "/%s (%.0f%%)", tq_cli_group(total, b),
                    100.0 * (double)done / (double)total);
        fprintf(stderr, " %s, %.0f/s", unit, rate);
    }
    if (total && rate > 0 && done < total)
        fprintf(stderr, ", ETA %.0fs", (double)(total - done) / rate);
    if (p->note[0])
        fprintf(stderr, ", %s", p->note);
    fflush(stderr);
    atomic_store(&progress_shown, 1);
    funlockfile(stderr);
}

void tq_progress_elapsed(tq_progress *p)
{
    double now;
    if (!progress_due(p, &now))
        return;
    flockfile(stderr);
    fprintf(stderr, "\r\033[K%s: %.1f s%s%s", p->what, now - p->start, p->note[0] ? ", " : "",
            p->note);
    fflush(stderr);
    atomic_store(&progress_shown, 1);
    funlockfile(stderr);
}

void tq_progress_done(tq_progress *p)
{
    if (p->active && p->drawn) {
        flockfile(stderr);
        erase_progress_locked();
        fflush(stderr);
        funlockfile(stderr);
    }
    p->drawn = 0;
}

/* ---- progress drawn by a thread ---- */

struct tq_progress_watch {
    tq_progress p;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    /* follow a file ... */
    dev_t dev;
    ino_t ino;
    uint64_t size;
    /* ... or a counter */
    const _Atomic uint64_t *counter;
    const char *unit;
};

/* file_offset() - the read offset of the first descriptor of this process open on the
 * watched file, found by its device and inode (the library opened it by its own path
 * string, and may reopen it to redo a load after the map grew). */
static int file_offset(const tq_progress_watch *w, uint64_t *pos)
{
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL)
        return -1;
    int found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300];
        struct stat sb;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        if (stat(path, &sb) != 0 || sb.st_dev != w->dev || sb.st_ino != w->ino)
            continue;
        snprintf(path, sizeof path, "/proc/self/fdinfo/%s", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        unsigned long long v;
        if (fscanf(f, "pos: %llu", &v) == 1) {
            *pos = v;
            found = 0;
        }
        fclose(f);
    }
    closedir(dir);
    return found;
}

static void *watch_main(void *arg)
{
    tq_progress_watch *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->stop)
            break;
        if (w->counter) {
            char n[32];
            snprintf(w->p.note, sizeof w->p.note, "%s %s so far",
                     tq_cli_group(atomic_load(w->counter), n), w->unit);
            tq_progress_elapsed(&w->p);
        } else {
            uint64_t pos;
            if (file_offset(w, &pos) == 0)
                tq_progress_update(&w->p, pos, w->size, TQ_PROGRESS_BYTES);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static tq_progress_watch *watch_start(tq_progress_watch *w, const char *what)
{
    tq_progress_init(&w->p, what);
    if (!w->p.active) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    /* The signals that stop a command belong to the main thread. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = pthread_create(&w->thread, NULL, watch_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

tq_progress_watch *tq_progress_watch_file(const char *what, const char *path)
{
    struct stat sb;
    if (tq_cli_quiet || !isatty(STDERR_FILENO) || stat(path, &sb) != 0 ||
        !S_ISREG(sb.st_mode))
        return NULL;
    tq_progress_watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->dev = sb.st_dev;
    w->ino = sb.st_ino;
    w->size = (uint64_t)sb.st_size;
    return watch_start(w, what);
}

tq_progress_watch *tq_progress_watch_count(const char *what, const _Atomic uint64_t *counter,
                                           const char *unit)
{
    if (tq_cli_quiet || !isatty(STDERR_FILENO))
        return NULL;
    tq_progress_watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->counter = counter;
    w->unit = unit;
    return watch_start(w, what);
}

void tq_progress_watch_stop(tq_progress_watch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    tq_progress_done(&w->p);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

char *tq_cli_group(uint64_t v, char out[32])
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    int o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

static void on_signal(int sig)
{
    tq_cli_stop = 1;
    tq_cli_signal = sig;
    /* A second signal ends the process at once: the store is durable either way. */
    signal(sig, SIG_DFL);
}

void tq_cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int tq_cli_open_output(tq_output *o, const char *path)
{
    memset(o, 0, sizeof *o);
    if (path == NULL || strcmp(path, "-") == 0) {
        o->fp = stdout;
        return 0;
    }
    o->path = strdup(path);
    size_t n = strlen(path) + 32;
    o->tmp = malloc(n);
    if (o->path && o->tmp) {
        snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
        o->fp = fopen(o->tmp, "wb");
    }
    if (o->fp == NULL) {
        int e = o->path && o->tmp ? errno : ENOMEM;
        free(o->path);
        free(o->tmp);
        memset(o, 0, sizeof *o);
        errno = e;
        return -1;
    }
    return 0;
}

int tq_cli_close_output(tq_output *o, int ok)
{
    int rc = 0;
    if (o->fp == stdout) {
        if (fflush(stdout) != 0)
            rc = -1;
        return rc;
    }
    if (o->fp) {
        if (ok && (fflush(o->fp) != 0 || fsync(fileno(o->fp)) != 0))
            ok = 0, rc = -1;
        if (fclose(o->fp) != 0)
            ok = 0, rc = -1;
    }
    if (o->tmp) {
        if (ok && rename(o->tmp, o->path) == 0) {
            char *dup = strdup(o->path);
            if (dup) {
                int dfd = open(dirname(dup), O_RDONLY | O_DIRECTORY);
                if (dfd >= 0) {
                    fsync(dfd);
                    close(dfd);
                }
                free(dup);
            }
        } else {
            unlink(o->tmp);
            if (ok)
                rc = -1;
        }
    }
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof *o);
    return rc;
}

void tq_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

int tq_cli_open_store(const char *cmd, const char *dir, int write, int nosync, tq_store **s)
{
    if (dir == NULL)
        return tq_cli_usage(cmd, "needs --db DIR");
    tq_store_holder h;
    memset(&h, 0, sizeof h);
    tq_store_opts so = {.command = cmd};
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
    return tq_cli_error(tq_cli_exit_for(rc), "%s: cannot open the database: %s", dir,
                        tq_strerror(rc));
}

int tq_cli_mkdirs(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        errno = n ? ENAMETOOLONG : ENOENT;
        return -1;
    }
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return -1;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -1;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

void tq_cli_utc_now(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
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
