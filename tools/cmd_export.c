/* cmd_export.c - the export command: decisions and permits as CSV. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_export.h"
#include "tq_out.h"


/* ---- export ---- */

static const char help_export[] =
    "usage: thongquan export decisions|permits --db DIR [-o FILE.csv] [--json]\n"
    "\n"
    "Write the decisions (decl_no,state,version,reasons,tax_short,manual) or the permit\n"
    "use (permit_no,used,quota) as CSV sorted by key, from one consistent snapshot.\n"
    "-o FILE writes a temporary file beside FILE and renames it into place when complete\n"
    "(a symlink at FILE is replaced, never followed); a device, a FIFO, '-' or\n"
    "/dev/stdout is written in place.  --json (with -o FILE) prints what was written,\n"
    "rows and bytes, as one JSON object on stdout.\n"
    "\n"
    "example:\n"
    "  thongquan export decisions --db /var/lib/thongquan/db -o decisions.csv\n";

int tq_cmd_export(int argc, char **argv)
{
    const char *db = NULL, *out = NULL, *json = NULL;
    tq_opt opts[] = {{"db", 1, &db}, {"o", 1, &out}, {"output", 1, &out}, {"json", 0, &json},
                     {NULL, 0, NULL}};
    const char *pos[1];
    int npos, rc = tq_cli_parse("export", argc, argv, opts, pos, 1, &npos);
    if (rc < 0)
        return tq_cli_help(help_export);
    if (rc)
        return rc;
    if (npos != 1 || (strcmp(pos[0], "decisions") != 0 && strcmp(pos[0], "permits") != 0))
        return tq_cli_usage("export", "needs decisions or permits");
    if (json && (out == NULL || strcmp(out, "-") == 0 || strcmp(out, "/dev/stdout") == 0))
        return tq_cli_usage("export", "--json needs -o FILE: the CSV would share stdout");
    tq_store *s;
    if ((rc = tq_cli_open_store("export", db, 0, 0, &s)) != 0)
        return rc;
    tq_out o;
    tq_diag d;
    memset(&d, 0, sizeof d);
    if ((rc = tq_out_open(&o, out ? out : "-", 0, &d)) != TQ_OK) {
        tq_store_close(s);
        return tq_cli_error(tq_cli_exit_for(rc), "cannot create %s", d.why);
    }
    FILE *f = tq_out_fp(&o);
    uint64_t lines = 0, bytes = 0;
    FILE *cf = f && json ? tq_cli_counting(f, &lines, &bytes) : f;
    if (cf == NULL)
        rc = TQ_ERR_NOMEM;
    else
        rc = pos[0][0] == 'd' ? tq_export_decisions(s, cf) : tq_export_permits(s, cf);
    if (cf && cf != f && fclose(cf) != 0 && rc == TQ_OK)
        rc = TQ_ERR_IO;
    tq_store_close(s);
    if (rc != TQ_OK && o.err == 0) {
        tq_out_rollback(&o);
        return tq_cli_error(tq_cli_exit_for(rc), "export failed: %s", tq_strerror(rc));
    }
    /* a write error (its reason kept by tq_out) is reported by the commit, which then
     * removes the temporary file */
    if ((rc = tq_out_commit(&o, &d)) != TQ_OK)
        return tq_cli_error(tq_cli_exit_for(rc), "export failed: %s", d.why);
    if (!json)
        return TQ_EXIT_OK;
    tq_json j;
    tq_cli_json_begin(&j, stdout);
    tq_json_kv_string(&j, "what", pos[0]);
    tq_json_kv_string(&j, "output", out);
    tq_json_kv_u64(&j, "rows", lines ? lines - 1 : 0);     /* the header is not a row */
    tq_json_kv_u64(&j, "bytes", bytes);
    return tq_cli_json_end(&j);
}
