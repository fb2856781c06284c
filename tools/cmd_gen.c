/* cmd_gen.c - thongquan gen: write a realistic synthetic backlog. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "tq_cli.h"
#include "tq_gen.h"
#include "tq_journal.h"

static const char help_gen[] =
    "usage: thongquan gen --declarations N [--seed S] --out DIR [--frame-size BYTES]\n"
    "                     [--json] [--quiet]\n"
    "\n"
    "Write DIR/journal.tqj, DIR/payments.csv and DIR/permits.csv: a backlog with the mix\n"
    "of a real incident (67% green, 30% yellow, 3% red; most paid, some short, some\n"
    "guarantees; permits with every kind of problem, hot quota permits; amendments,\n"
    "officer results, manual clearances, cancellations, duplicates).  The same N and\n"
    "seed give the same events and rows.  DIR is created when missing.  --json prints\n"
    "what was written as one JSON object.\n"
    "\n"
    "example:\n"
    "  thongquan gen --declarations 15000 --seed 1 --out morning\n";

typedef struct gen_args {
    const char *n, *seed, *out, *quiet, *frame, *json;
    tq_gen_opts go;
} gen_args;

/* gen_check() - the numbers into a->go. */
static int gen_check(tq_cli_cmd *c)
{
    gen_args *a = c->args;
    tq_gen_opts *go = &a->go;
    if (a->n == NULL || a->out == NULL)
        return tq_cli_usage("gen", "needs --declarations N and --out DIR");
    if (tq_cli_u64("gen", "declarations", a->n, &go->declarations) ||
        tq_cli_u64("gen", "seed", a->seed, &go->seed))
        return TQ_EXIT_USAGE;
    if (a->frame) {
        uint64_t v;
        if (tq_cli_u64("gen", "frame-size", a->frame, &v))
            return TQ_EXIT_USAGE;
        if (v < 4096 || v > TQ_JOURNAL_FRAME_MAX / 2)
            return tq_cli_usage("gen", "--frame-size must be 4096..%u", TQ_JOURNAL_FRAME_MAX / 2);
        go->frame_bytes = (size_t)v;
    }
    if (go->declarations < 1 || go->declarations > 1000000000ULL)
        return tq_cli_usage("gen", "--declarations must be 1..1000000000");
    return 0;
}

static int gen_run(tq_cli_cmd *c)
{
    const gen_args *a = c->args;
    const char *out = a->out, *json = a->json;
    tq_gen_opts go = a->go;
    int rc;
    if (mkdir(out, 0777) != 0 && errno != EEXIST)
        return tq_cli_error(TQ_EXIT_IO, "cannot create %s: %s", out, strerror(errno));
    go.out_dir = out;
    tq_progress prog;
    tq_progress_init(&prog, "gen");
    prog.unit = "declarations";
    go.progress = tq_progress_step;
    go.progress_ctx = &prog;
    tq_gen_stats st;
    memset(&st, 0, sizeof st);
    tq_diag d;
    memset(&d, 0, sizeof d);
    double t0 = tq_cli_now();
    rc = tq_gen_run(&go, &st, &d);
    tq_progress_done(&prog);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "gen failed: %s%s%s", tq_strerror(rc),
                            d.why[0] ? ": " : "", d.why);
    if (json) {
        tq_json j;
        tq_cli_json_begin(&j, stdout);
        tq_json_kv_string(&j, "out", out);
        tq_json_kv_u64(&j, "declarations", go.declarations);
        tq_json_kv_u64(&j, "seed", go.seed);
        tq_json_kv_u64(&j, "events", st.events);
        tq_json_kv_u64(&j, "journal_bytes", st.journal_bytes);
        tq_json_kv_u64(&j, "payments", st.payments);
        tq_json_kv_u64(&j, "permits", st.permits);
        tq_json_key(&j, "seconds");
        tq_json_double(&j, tq_cli_now() - t0, 3);
        return tq_cli_json_end(&j);
    }
    if (!tq_cli_quiet)
        printf("generated %llu declarations in %s: %llu events (%llu bytes of journal), "
               "%llu payments, %llu permits in %.2f s\n",
               (unsigned long long)go.declarations, out, (unsigned long long)st.events,
               (unsigned long long)st.journal_bytes, (unsigned long long)st.payments,
               (unsigned long long)st.permits, tq_cli_now() - t0);
    return TQ_EXIT_OK;
}

int tq_cmd_gen(int argc, char **argv)
{
    gen_args a = {0};
    a.seed = "1";
    tq_opt opts[] = {{"declarations", 1, &a.n}, {"seed", 1, &a.seed}, {"out", 1, &a.out},
                     {"quiet", 0, &a.quiet},    {"frame-size", 1, &a.frame},
                     {"json", 0, &a.json},      {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "gen", .help = help_gen, .opts = opts, .check = gen_check,
                    .run = gen_run, .args = &a};
    return tq_cli_main(&c, argc, argv);
}
