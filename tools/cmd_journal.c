/* cmd_journal.c - thongquan journal pack | cat | verify. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_journal.h"
#include "tq_ndjson.h"
#include "tq_pack.h"

static const char help_pack[] =
    "usage: thongquan journal pack EVENTS.ndjson -o J.tqj [--append | --force]\n"
    "                              [--skip-invalid REJECTS.ndjson] [--frame-size BYTES]\n"
    "                              [--json]\n"
    "\n"
    "Check every event strictly (SPEC 2.1) and pack them into a journal of zstd frames.\n"
    "'-' reads standard input.  With any bad event nothing is written and the exit\n"
    "status is 1, unless --skip-invalid names a file for the bad lines (each written\n"
    "whole).  An existing journal is never replaced unless --force is given (exit 2);\n"
    "--append adds to it, continuing its seq.  A second writer of the same journal\n"
    "gets exit 3 naming the holder.  On any failure the journal is left as it was.\n"
    "--json prints what was packed as one JSON object on stdout.\n"
    "\n"
    "example:\n"
    "  thongquan journal pack queued-2024-08-06.ndjson -o backlog.tqj\n";
static const char help_cat[] =
    "usage: thongquan journal cat J.tqj\n"
    "\n"
    "Print every event as NDJSON with its \"seq\"; 'journal pack' accepts the output back.\n"
    "\n"
    "example:\n"
    "  thongquan journal cat backlog.tqj | grep 103456789012\n";
static const char help_verify[] =
    "usage: thongquan journal verify J.tqj [--json] [--quiet]\n"
    "\n"
    "Decode every frame, check its checksums and seq continuity, and print the seq\n"
    "range, frames, sizes and compression ratio.  Exit status 5 names the first corrupt\n"
    "frame or the torn tail.  --json prints the same as one JSON object; --quiet prints\n"
    "nothing but the error, for scripts that want only the exit status.\n"
    "\n"
    "example:\n"
    "  thongquan journal verify backlog.tqj\n";

static void print_frame_error(const char *path, int rc, const tq_frame_info *fi)
{
    if (rc == TQ_ERR_TORN)
        tq_cli_warn("%s: torn tail at byte %llu: the writer stopped inside frame %llu; "
                    "every frame before it is complete",
                    path, (unsigned long long)fi->offset, (unsigned long long)fi->index);
    else if (fi->count)
        tq_cli_warn("%s: frame %llu at byte %llu (seq %llu..%llu): %s", path,
                    (unsigned long long)fi->index, (unsigned long long)fi->offset,
                    (unsigned long long)fi->first_seq,
                    (unsigned long long)(fi->first_seq + fi->count - 1), tq_strerror(rc));
    else
        tq_cli_warn("%s: frame %llu at byte %llu: %s", path, (unsigned long long)fi->index,
                    (unsigned long long)fi->offset, tq_strerror(rc));
}

typedef struct pack_cli {
    tq_cli_diags bad;        /* the bad lines said; .file names the input */
    uint64_t in_size;
    tq_progress prog;
} pack_cli;

static void pack_on_bad(void *ctx, const tq_diag *d)
{
    pack_cli *c = ctx;
    tq_cli_diags_say(&c->bad, d);
}

static void pack_on_progress(void *ctx, uint64_t events, uint64_t in_bytes)
{
    pack_cli *c = ctx;
    if (!c->prog.active)
        return;
    if (c->in_size && in_bytes) {
        snprintf(c->prog.note, sizeof c->prog.note, "%llu events", (unsigned long long)events);
        tq_progress_update(&c->prog, in_bytes, c->in_size, TQ_PROGRESS_BYTES);
    } else {
        tq_progress_update(&c->prog, events, 0, "events");
    }
}

/* The message and exit status for a pack that committed nothing. */
static int pack_failed(const tq_pack_opts *po, int rc, const tq_pack_stats *st,
                       const tq_diag *d, const char *in_name)
{
    switch (rc) {
    case TQ_ERR_INPUT:
        return tq_cli_error(TQ_EXIT_INPUT, "%s: %llu bad event%s; nothing was written",
                            in_name, (unsigned long long)st->bad, st->bad == 1 ? "" : "s");
    case TQ_ERR_BUSY:
        return tq_cli_error(TQ_EXIT_BUSY, "%s: another writer holds this journal: pid %ld "
                            "(%s) since %s", po->out, st->holder.pid,
                            st->holder.command[0] ? st->holder.command : "?",
                            st->holder.started[0] ? st->holder.started : "?");
    case TQ_ERR_EXISTS:
        return tq_cli_error(TQ_EXIT_USAGE, "%s already exists: use --append to add to it, "
                            "or --force to replace it", po->out);
    case TQ_ERR_NOTFOUND:
        return tq_cli_error(TQ_EXIT_IO, "%s: no such journal to append to (without "
                            "--append a new one is created)", po->out);
    case TQ_ERR_LIMIT:
        return tq_cli_error(TQ_EXIT_CORRUPT, "%s: %s", po->out, d->why);
    case TQ_ERR_INTERRUPTED:
        tq_cli_warn("interrupted: nothing was written");
        return tq_cli_exit_for(rc);
    default:
        break;
    }
    /* d->why names the file for the outputs; for the rest, say which file it was */
    const char *why = d->why[0] ? d->why : tq_strerror(rc);
    int status = tq_cli_exit_for(rc);
    if (strcmp(d->field, "(input)") == 0)
        return tq_cli_error(status, "%s: %s; nothing was written", in_name, why);
    if (strcmp(d->field, "(lock)") == 0)
        return tq_cli_error(status, "%s.lock: %s; nothing was written", po->out, why);
    if (strcmp(d->field, "(output)") == 0 || strcmp(d->field, "(reject)") == 0)
        return tq_cli_error(status, "%s; nothing was written", why);
    return tq_cli_error(status, "%s: %s; nothing was written", po->out, why);
}

typedef struct pack_args {
    const char *out, *append, *skip, *frame, *quiet, *force, *json;
    size_t frame_bytes;      /* --frame-size, 0: the default */
} pack_args;

static const char pack_needs[] = "needs EVENTS.ndjson and -o J.tqj";

/* pack_check() - -o, --append against --force, and --frame-size. */
static int pack_check(tq_cli_cmd *c)
{
    pack_args *a = c->args;
    if (a->out == NULL)
        return tq_cli_usage("journal pack", "%s", pack_needs);
    if (a->append && a->force)
        return tq_cli_usage("journal pack", "--append and --force do not go together");
    if (a->frame) {
        uint64_t v;
        if (tq_cli_u64("journal pack", "frame-size", a->frame, &v))
            return TQ_EXIT_USAGE;
        if (v < 4096 || v > TQ_JOURNAL_FRAME_MAX)
            return tq_cli_usage("journal pack", "--frame-size must be 4096..%u",
                                TQ_JOURNAL_FRAME_MAX);
        a->frame_bytes = (size_t)v;
    }
    return 0;
}

static int pack_run(tq_cli_cmd *cmd)
{
    const pack_args *a = cmd->args;
    const char *out = a->out, *json = a->json, *const *pos = cmd->pos;
    tq_pack_opts po = {.out = out, .append = a->append != NULL, .force = a->force != NULL,
                       .reject = a->skip, .stop = &tq_cli_stop, .frame_bytes = a->frame_bytes};
    int rc;
    /* Messages name standard input "(stdin)", as the diagnostics of its lines do. */
    pack_cli c = {0};
    tq_cli_diags_init(&c.bad, strcmp(pos[0], "-") == 0 ? "(stdin)" : pos[0]);
    FILE *in = strcmp(pos[0], "-") == 0 ? stdin : fopen(pos[0], "rb");
    if (in == NULL)
        return tq_cli_error(errno == EACCES ? TQ_EXIT_PERM : TQ_EXIT_INPUT, "cannot open %s: %s",
                            c.bad.file, strerror(errno));
    struct stat in_sb;
    c.in_size = fstat(fileno(in), &in_sb) == 0 && S_ISREG(in_sb.st_mode)
                    ? (uint64_t)in_sb.st_size : 0;
    char command[160];
    snprintf(command, sizeof command, "journal pack %s", c.bad.file);
    po.in = in;
    po.command = command;
    po.on_bad = pack_on_bad;
    po.on_progress = pack_on_progress;
    po.ctx = &c;
    tq_cli_catch_signals();
    tq_progress_init(&c.prog, "pack");
    tq_pack_stats st;
    tq_diag d;
    memset(&d, 0, sizeof d);
    rc = tq_journal_pack(&po, &st, &d);
    tq_progress_done(&c.prog);
    if (in != stdin)
        fclose(in);
    tq_cli_diags_more(&c.bad, "lines");
    if (rc != TQ_OK)
        return pack_failed(&po, rc, &st, &d, c.bad.file);
    if (json) {
        tq_json j;
        tq_cli_json_begin(&j, stdout);
        tq_json_kv_string(&j, "input", c.bad.file);
        tq_json_kv_string(&j, "journal", out);
        tq_json_kv_bool(&j, "append", po.append);
        tq_json_kv_u64(&j, "events", st.events);
        tq_json_kv_u64(&j, "bad", st.bad);
        rc = tq_cli_json_end(&j);
        if (rc)
            return rc;
    } else if (!tq_cli_quiet)
        fprintf(stderr, "thongquan: packed %llu events into %s%s\n", (unsigned long long)st.events,
                out, st.bad ? " (bad lines skipped)" : "");
    return st.bad ? TQ_EXIT_INPUT : TQ_EXIT_OK;
}

static int cat_run(tq_cli_cmd *c)
{
    const char *const *pos = c->pos;
    int rc;
    tq_journal_reader *r;
    tq_diag d;
    memset(&d, 0, sizeof d);
    rc = tq_journal_open_diag(pos[0], &r, &d);
    if (rc != TQ_OK)
        return tq_cli_error(rc == TQ_ERR_LIMIT ? TQ_EXIT_CORRUPT : tq_cli_exit_for(rc), "%s: %s",
                            pos[0], d.why[0] ? d.why : tq_strerror(rc));
    static tq_event ev;
    static char line[TQ_NDJSON_LINE_MAX];
    tq_frame_info fi;
    while ((rc = tq_journal_next_event(r, &ev, &fi)) == TQ_OK) {
        size_t n = tq_ndjson_format_event(&ev, 1, line, sizeof line);
        if (n >= sizeof line || fwrite(line, 1, n, stdout) != n) {
            rc = TQ_ERR_IO;
            break;
        }
    }
    tq_journal_close(r);
    if (fflush(stdout) != 0 && rc == TQ_ERR_EOF)
        rc = TQ_ERR_IO;
    if (rc == TQ_ERR_EOF)
        return TQ_EXIT_OK;
    if (rc == TQ_ERR_IO)
        return tq_cli_error(TQ_EXIT_IO, "write error: %s", strerror(errno));
    print_frame_error(pos[0], rc, &fi);
    return tq_cli_exit_for(rc);
}

static void print_verify(const char *path, const tq_verify_result *res)
{
    char hex[2 * TQ_JOURNAL_ID_LEN + 1];
    tq_cli_hex_id(res->id, hex);
    printf("journal    %s\n", path);
    printf("id         %s\n", hex);
    printf("format     version %u, frames up to %u bytes\n", res->version, res->frame_max);
    if (res->events)
        printf("seq        %llu..%llu\n", (unsigned long long)res->first_seq,
               (unsigned long long)res->last_seq);
    else
        printf("seq        (empty)\n");
    printf("events     %llu\n", (unsigned long long)res->events);
    printf("frames     %llu\n", (unsigned long long)res->frames);
    printf("file       %llu bytes\n", (unsigned long long)res->file_size);
    printf("content    %llu bytes, compressed %llu bytes, ratio %.2f\n",
           (unsigned long long)res->rawbytes, (unsigned long long)res->zbytes,
           res->zbytes ? (double)res->rawbytes / (double)res->zbytes : 0.0);
    printf("status     %s\n", res->status == TQ_OK          ? "ok"
                              : res->status == TQ_ERR_TORN ? "TORN TAIL"
                                                           : "CORRUPT");
}

static int print_verify_json(const char *path, const tq_verify_result *res)
{
    tq_json j;
    tq_cli_json_begin_journal(&j, path, "id", res->id);
    TQ_CLI_JSON_U64S(&j, {"version", res->version}, {"frame_max", res->frame_max});
    tq_json_key(&j, "first_seq");
    if (res->events)
        tq_json_u64(&j, res->first_seq);
    else
        tq_json_null(&j);
    tq_json_key(&j, "last_seq");
    if (res->events)
        tq_json_u64(&j, res->last_seq);
    else
        tq_json_null(&j);
    TQ_CLI_JSON_U64S(&j, {"events", res->events}, {"frames", res->frames},
                     {"file_bytes", res->file_size}, {"content_bytes", res->rawbytes},
                     {"compressed_bytes", res->zbytes});
    tq_json_kv_string(&j, "status", res->status == TQ_OK          ? "ok"
                                    : res->status == TQ_ERR_TORN ? "torn_tail"
                                                                 : "corrupt");
    if (res->status != TQ_OK) {
        tq_json_key(&j, "bad_frame");
        tq_json_begin_object(&j);
        tq_json_kv_u64(&j, "index", res->bad.index);
        tq_json_kv_u64(&j, "offset", res->bad.offset);
        tq_json_end_object(&j);
    }
    return tq_cli_json_end(&j);
}

typedef struct verify_args {
    const char *quiet, *json;
} verify_args;

static int verify_run(tq_cli_cmd *c)
{
    const char *json = ((const verify_args *)c->args)->json, *const *pos = c->pos;
    int rc;
    tq_verify_result res;
    tq_diag d;
    memset(&d, 0, sizeof d);
    rc = tq_journal_verify(pos[0], &res, &d);
    if (!res.opened)
        return tq_cli_error(rc == TQ_ERR_LIMIT ? TQ_EXIT_CORRUPT : tq_cli_exit_for(rc),
                            "%s: %s", pos[0], d.why[0] ? d.why : tq_strerror(rc));
    /* -q: nothing but errors */
    int jrc = 0;
    if (json)
        jrc = print_verify_json(pos[0], &res);
    else if (!tq_cli_quiet)
        print_verify(pos[0], &res);
    if (rc == TQ_OK && jrc)
        return jrc;
    if (rc == TQ_OK)
        return TQ_EXIT_OK;
    if (fflush(stdout) != 0) {
        /* the error below is what matters */
    }
    print_frame_error(pos[0], rc, &res.bad);
    return tq_cli_exit_for(rc);
}

static int pack(int argc, char **argv)
{
    pack_args a = {0};
    tq_opt opts[] = {{"o", 1, &a.out},         {"output", 1, &a.out},    {"append", 0, &a.append},
                     {"skip-invalid", 1, &a.skip}, {"frame-size", 1, &a.frame},
                     {"force", 0, &a.force},   {"quiet", 0, &a.quiet},   {"json", 0, &a.json},
                     {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "journal pack", .help = help_pack, .opts = opts, .minpos = 1,
                    .maxpos = 1, .needs = pack_needs, .check = pack_check, .run = pack_run,
                    .args = &a};
    return tq_cli_main(&c, argc, argv);
}

static int cat(int argc, char **argv)
{
    tq_opt opts[] = {{NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "journal cat", .help = help_cat, .opts = opts, .minpos = 1,
                    .maxpos = 1, .needs = "needs J.tqj", .run = cat_run};
    return tq_cli_main(&c, argc, argv);
}

static int verify(int argc, char **argv)
{
    verify_args a = {0};
    tq_opt opts[] = {{"quiet", 0, &a.quiet}, {"json", 0, &a.json}, {NULL, 0, NULL}};
    tq_cli_cmd c = {.name = "journal verify", .help = help_verify, .opts = opts, .minpos = 1,
                    .maxpos = 1, .needs = "needs J.tqj", .run = verify_run, .args = &a};
    return tq_cli_main(&c, argc, argv);
}

int tq_cmd_journal(int argc, char **argv)
{
    if (argc < 1)
        return tq_cli_usage("journal", "needs pack, cat or verify");
    if (strcmp(argv[0], "pack") == 0)
        return pack(argc - 1, argv + 1);
    if (strcmp(argv[0], "cat") == 0)
        return cat(argc - 1, argv + 1);
    if (strcmp(argv[0], "verify") == 0)
        return verify(argc - 1, argv + 1);
    if (argv[0][0] == '-') {
        /* options before the journal command: only the common ones (-h, -q, -v) */
        tq_opt none[] = {{NULL, 0, NULL}};
        const char *pos[1];
        int npos, rc = tq_cli_parse("journal", argc, argv, none, pos, 0, &npos);
        if (rc >= 0)
            return rc ? rc : tq_cli_usage("journal", "needs pack, cat or verify");
        fputs(help_pack, stdout);
        fputc('\n', stdout);
        fputs(help_cat, stdout);
        fputc('\n', stdout);
        return tq_cli_help(help_verify);
    }
    return tq_cli_usage("journal", "unknown journal command '%s' (pack, cat or verify)",
                        argv[0]);
}
