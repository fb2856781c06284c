/* cmd_journal.c - thongquan journal pack | cat | verify. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_journal.h"
#include "tq_ndjson.h"

#define MAX_REPORTED 50

static const char help_pack[] =
    "usage: thongquan journal pack EVENTS.ndjson -o J.tqj [--append]\n"
    "                              [--skip-invalid REJECTS.ndjson] [--frame-size BYTES]\n"
    "\n"
    "Check every event strictly (SPEC 2.1) and pack them into a journal of zstd frames.\n"
    "'-' reads standard input.  With any bad event nothing is written and the exit\n"
    "status is 1, unless --skip-invalid names a file for the bad lines.  --append adds\n"
    "to an existing journal, continuing its seq.\n"
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
    "usage: thongquan journal verify J.tqj [--quiet]\n"
    "\n"
    "Decode every frame, check its checksums and seq continuity, and print the seq\n"
    "range, frames, sizes and compression ratio.  Exit status 5 names the first corrupt\n"
    "frame or the torn tail.\n"
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

static int pack(int argc, char **argv)
{
    const char *out = NULL, *append = NULL, *skip = NULL, *frame = NULL, *quiet = NULL;
    tq_opt opts[] = {{"o", 1, &out},         {"output", 1, &out},      {"append", 0, &append},
                     {"skip-invalid", 1, &skip}, {"frame-size", 1, &frame},
                     {"quiet", 0, &quiet},   {NULL, 0, NULL}};
    const char *pos[1];
    int npos, rc = tq_cli_parse("journal pack", argc, argv, opts, pos, 1, &npos);
    if (rc < 0) {
        fputs(help_pack, stdout);
        return TQ_EXIT_OK;
    }
    if (rc)
        return rc;
    if (npos != 1 || out == NULL)
        return tq_cli_usage("journal pack", "needs EVENTS.ndjson and -o J.tqj");
    tq_journal_write_opts wo = {0};
    if (frame) {
        uint64_t v;
        if (tq_cli_u64("journal pack", "frame-size", frame, &v))
            return TQ_EXIT_USAGE;
        if (v < 4096 || v > TQ_JOURNAL_FRAME_MAX / 2)
            return tq_cli_usage("journal pack", "--frame-size must be 4096..%u",
                                TQ_JOURNAL_FRAME_MAX / 2);
        wo.frame_bytes = (size_t)v;
    }
    /* Messages name standard input "(stdin)", as the diagnostics of its lines do. */
    const char *in_name = strcmp(pos[0], "-") == 0 ? "(stdin)" : pos[0];
    FILE *in = strcmp(pos[0], "-") == 0 ? stdin : fopen(pos[0], "rb");
    if (in == NULL)
        return tq_cli_error(TQ_EXIT_IO, "cannot open %s: %s", in_name, strerror(errno));
    FILE *rej = NULL;
    if (skip && (rej = fopen(skip, "wb")) == NULL) {
        if (in != stdin)
            fclose(in);
        return tq_cli_error(TQ_EXIT_IO, "cannot create %s: %s", skip, strerror(errno));
    }

    /* A new journal is written beside its final name and renamed when complete, so a
     * failed pack leaves nothing; an append is cut back to its old size on failure. */
    char *tmp = NULL;
    off_t old_size = 0;
    tq_journal_writer *w = NULL;
    if (append) {
        struct stat sb;
        if (stat(out, &sb) == 0)
            old_size = sb.st_size;
        rc = tq_journal_append(out, &wo, &w);
    } else {
        size_t n = strlen(out) + 32;
        tmp = malloc(n);
        if (tmp == NULL)
            return tq_cli_error(TQ_EXIT_SOFTWARE, "out of memory");
        snprintf(tmp, n, "%s.tmp.%ld", out, (long)getpid());
        rc = tq_journal_create(tmp, &wo, &w);
    }
    if (rc != TQ_OK) {
        int st = tq_cli_error(tq_cli_exit_for(rc), "%s: %s", out, tq_strerror(rc));
        if (in != stdin)
            fclose(in);
        if (rej)
            fclose(rej);
        free(tmp);
        return st;
    }

    tq_linereader lr;
    tq_linereader_init(&lr, in, 1u << 20);
    static tq_event ev;
    uint64_t bad = 0, good = 0, parsed = 0;
    const uint64_t start_seq = tq_journal_next_seq(w);
    int io_rc = TQ_OK;
    const char *line;
    size_t len;
    tq_progress prog;
    tq_progress_init(&prog, "pack");
    /* Progress by bytes of input when its size is known (a file, not a pipe). */
    struct stat in_sb;
    uint64_t in_size = fstat(fileno(in), &in_sb) == 0 && S_ISREG(in_sb.st_mode)
                           ? (uint64_t)in_sb.st_size
                           : 0;
    for (;;) {
        rc = tq_linereader_next(&lr, &line, &len);
        if (rc == TQ_ERR_EOF)
            break;
        tq_diag d;
        memset(&d, 0, sizeof d);
        /* Without a reject file every line holds a position; with one, a bad line
         * does not take a seq. */
        uint64_t seq = start_seq + parsed + (rej ? 0 : bad);
        if (rc == TQ_ERR_LIMIT) {
            tq_diag_set(&d, "(line)", "line longer than %zu bytes", lr.max);
        } else if (rc != TQ_OK) {
            io_rc = TQ_ERR_IO;
            tq_cli_warn("%s: read error: %s", in_name, strerror(errno));
            break;
        } else if (len == 0) {
            tq_diag_set(&d, "(line)", "blank line");
            rc = TQ_ERR_INPUT;
        } else {
            rc = tq_ndjson_parse_event(line, len, seq, &ev, &d);
        }
        if (rc != TQ_OK) {
            d.line = lr.lineno;
            d.seq = seq;
            if (++bad <= MAX_REPORTED)
                tq_cli_diag(in_name, &d);
            if (rej && rc != TQ_ERR_LIMIT &&
                (fwrite(line, 1, len, rej) != len || fputc('\n', rej) == EOF)) {
                io_rc = TQ_ERR_IO;
                tq_cli_warn("%s: write error: %s", skip, strerror(errno));
                break;
            }
            continue;
        }
        parsed++;
        if (bad && !rej)
            continue; /* keep checking, to report every bad line, but write nothing */
        rc = tq_journal_add(w, &ev);
        if (rc != TQ_OK) {
            io_rc = rc;
            tq_cli_warn("%s: %s", out, tq_strerror(rc));
            break;
        }
        good++;
        if ((good & 0xfff) == 0 && prog.active) {
            long at = in_size ? ftell(in) : -1;
            if (at >= 0) {
                snprintf(prog.note, sizeof prog.note, "%llu events", (unsigned long long)good);
                tq_progress_update(&prog, (uint64_t)at, in_size, TQ_PROGRESS_BYTES);
            } else {
                tq_progress_update(&prog, good, 0, "events");
            }
        }
    }
    tq_progress_done(&prog);
    tq_linereader_release(&lr);
    if (in != stdin)
        fclose(in);
    if (bad > MAX_REPORTED)
        tq_cli_warn("%s: ... and %llu more bad lines", in_name,
                    (unsigned long long)(bad - MAX_REPORTED));
    int ok = io_rc == TQ_OK && (bad == 0 || rej != NULL);
    if (rej && fclose(rej) != 0 && ok) {
        ok = 0;
        io_rc = TQ_ERR_IO;
    }
    if (ok) {
        rc = tq_journal_finish(w);
        if (rc != TQ_OK) {
            ok = 0;
            io_rc = rc;
            tq_cli_warn("%s: %s", out, tq_strerror(rc));
        }
    } else {
        tq_journal_abandon(w);
    }
    if (!append) {
        if (ok && rename(tmp, out) != 0) {
            ok = 0;
            io_rc = TQ_ERR_IO;
            tq_cli_warn("cannot rename %s to %s: %s", tmp, out, strerror(errno));
        }
        if (!ok)
            unlink(tmp);
        free(tmp);
    } else if (!ok) {
        if (truncate(out, old_size) != 0)
            tq_cli_warn("%s: could not cut back to %lld bytes: %s", out, (long long)old_size,
                        strerror(errno));
    }
    if (!ok) {
        if (io_rc != TQ_OK)
            return tq_cli_exit_for(io_rc);
        return tq_cli_error(TQ_EXIT_INPUT, "%s: %llu bad event%s; nothing was written",
                            in_name, (unsigned long long)bad, bad == 1 ? "" : "s");
    }
    if (!tq_cli_quiet)
        fprintf(stderr, "thongquan: packed %llu events into %s%s\n", (unsigned long long)good,
                out, bad ? " (bad lines skipped)" : "");
    return bad ? TQ_EXIT_INPUT : TQ_EXIT_OK;
}

static int cat(int argc, char **argv)
{
    tq_opt opts[] = {{NULL, 0, NULL}};
    const char *pos[1];
    int npos, rc = tq_cli_parse("journal cat", argc, argv, opts, pos, 1, &npos);
    if (rc < 0) {
        fputs(help_cat, stdout);
        return TQ_EXIT_OK;
    }
    if (rc)
        return rc;
    if (npos != 1)
        return tq_cli_usage("journal cat", "needs J.tqj");
    tq_journal_reader *r;
    rc = tq_journal_open(pos[0], &r);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "%s: %s", pos[0], tq_strerror(rc));
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

static int verify(int argc, char **argv)
{
    const char *quiet = NULL;
    tq_opt opts[] = {{"quiet", 0, &quiet}, {"q", 0, &quiet}, {NULL, 0, NULL}};
    const char *pos[1];
    int npos, rc = tq_cli_parse("journal verify", argc, argv, opts, pos, 1, &npos);
    if (rc < 0) {
        fputs(help_verify, stdout);
        return TQ_EXIT_OK;
    }
    if (rc)
        return rc;
    if (npos != 1)
        return tq_cli_usage("journal verify", "needs J.tqj");
    tq_journal_reader *r;
    rc = tq_journal_open(pos[0], &r);
    if (rc != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "%s: %s", pos[0], tq_strerror(rc));
    uint8_t *z = NULL, *raw = NULL;
    size_t zcap = 0, rawcap = 0;
    uint64_t frames = 0, events = 0, zbytes = 0, rawbytes = 0, first = 0, last = 0;
    tq_frame_info fi;
    static tq_event ev;
    for (;;) {
        memset(&fi, 0, sizeof fi);
        rc = tq_journal_read_frame(r, &fi, &z, &zcap);
        if (rc != TQ_OK)
            break;
        rc = tq_journal_frame_decode(&fi, z, &raw, &rawcap);
        if (rc != TQ_OK)
            break;
        tq_frame_cursor c;
        tq_frame_cursor_init(&c, &fi, raw);
        while ((rc = tq_frame_cursor_next(&c, &ev)) == TQ_OK)
            ;
        if (rc != TQ_ERR_EOF)
            break;
        if (frames == 0)
            first = fi.first_seq;
        last = fi.first_seq + fi.count - 1;
        frames++;
        events += fi.count;
        zbytes += fi.zsize;
        rawbytes += fi.raw_size;
    }
    const uint8_t *id = tq_journal_id(r);
    char hex[2 * TQ_JOURNAL_ID_LEN + 1];
    for (int i = 0; i < TQ_JOURNAL_ID_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    struct stat sb;
    long long fsize = stat(pos[0], &sb) == 0 ? (long long)sb.st_size : -1;
    if (!tq_cli_quiet) {
        printf("journal    %s\n", pos[0]);
        printf("id         %s\n", hex);
        if (events)
            printf("seq        %llu..%llu\n", (unsigned long long)first,
                   (unsigned long long)last);
        else
            printf("seq        (empty)\n");
        printf("events     %llu\n", (unsigned long long)events);
        printf("frames     %llu\n", (unsigned long long)frames);
        printf("file       %lld bytes\n", fsize);
        printf("content    %llu bytes, compressed %llu bytes, ratio %.2f\n",
               (unsigned long long)rawbytes, (unsigned long long)zbytes,
               zbytes ? (double)rawbytes / (double)zbytes : 0.0);
        printf("status     %s\n", rc == TQ_ERR_EOF ? "ok"
                                  : rc == TQ_ERR_TORN ? "TORN TAIL"
                                                       : "CORRUPT");
    }
    free(z);
    free(raw);
    tq_journal_close(r);
    if (rc == TQ_ERR_EOF)
        return TQ_EXIT_OK;
    print_frame_error(pos[0], rc, &fi);
    return tq_cli_exit_for(rc);
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
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(help_pack, stdout);
        fputc('\n', stdout);
        fputs(help_cat, stdout);
        fputc('\n', stdout);
        fputs(help_verify, stdout);
        return TQ_EXIT_OK;
    }
    if (argv[0][0] == '-')
        return tq_cli_usage("journal", "unknown option '%s'", argv[0]);
    return tq_cli_usage("journal", "unknown journal command '%s' (pack, cat or verify)",
                        argv[0]);
}
