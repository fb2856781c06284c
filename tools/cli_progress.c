/* cli_progress.c - the progress line on a terminal (stderr), fed by the libraries'
 * progress callbacks (tq_gen, tq_journal_pack, tq_load, tq_replay, tq_reconcile): never
 * drawn on a pipe, a file, with TERM=dumb or with --quiet, so none of those ever sees
 * a '\r' or an escape sequence.  There is no colour anywhere; if some is added it goes
 * through tq_cli_colour(), which honours NO_COLOR (https://no-color.org). */
#include "tq_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double tq_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tq_cli_fancy_stderr(void)
{
    const char *term = getenv("TERM");
    return isatty(STDERR_FILENO) && !(term && strcmp(term, "dumb") == 0);
}

int tq_cli_colour(void)
{
    const char *no = getenv("NO_COLOR");
    return tq_cli_fancy_stderr() && !(no && *no);
}

void tq_progress_init(tq_progress *p, const char *what)
{
    p->what = what;
    p->unit = TQ_PROGRESS_BYTES;
    p->start = p->last = tq_cli_now();
    p->active = !tq_cli_quiet && tq_cli_fancy_stderr();
    p->drawn = 0;
    p->note[0] = '\0';
}

void tq_progress_step(void *p, uint64_t done, uint64_t total)
{
    tq_progress *pr = p;
    tq_progress_update(pr, done, total, pr->unit);
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
/* redraw_interval() - 0.25 s; TQ_PROGRESS_INTERVAL_MS (tests only) sets it, 0 drawing
 * on every report, so a test can see every value a library reported. */
static double redraw_interval(void)
{
    static double v = -1;
    if (v < 0) {
        const char *e = getenv("TQ_PROGRESS_INTERVAL_MS");
        v = e && *e ? strtod(e, NULL) / 1000.0 : 0.25;
        if (v < 0)
            v = 0.25;
    }
    return v;
}

static int progress_due(tq_progress *p, double *now)
{
    if (!p->active)
        return 0;
    *now = tq_cli_now();
    if (*now - p->last < redraw_interval())
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
    /* always an ETA once a rate is known: ", ETA 0s" at the end, so a line drawn only
     * at 100% reads like every other */
    if (total && rate > 0)
        fprintf(stderr, ", ETA %.0fs", done < total ? (double)(total - done) / rate : 0.0);
    if (p->note[0])
        fprintf(stderr, ", %s", p->note);
    fflush(stderr);
    tq_cli_progress_shown();
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
    tq_cli_progress_shown();
    funlockfile(stderr);
}

void tq_progress_done(tq_progress *p)
{
    if (p->active && p->drawn) {
        flockfile(stderr);
        tq_cli_erase_progress_locked();
        fflush(stderr);
        funlockfile(stderr);
    }
    p->drawn = 0;
}
