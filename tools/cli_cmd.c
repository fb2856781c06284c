/* cli_cmd.c - a subcommand run from its description (tq_cli_cmd in tq_cli.h): the
 * checks every command makes of its arguments (--help, how many positionals, --db) and
 * the opening and closing of its database, written once here rather than in each
 * cmd_*.c. */
#include "tq_cli.h"

int tq_cli_main(tq_cli_cmd *c, int argc, char **argv)
{
    int rc = tq_cli_parse(c->name, argc, argv, c->opts, c->pos, c->maxpos, &c->npos);
    if (rc < 0)
        return tq_cli_help(c->help);
    if (rc != 0)
        return rc;
    if (c->npos < c->minpos)
        return tq_cli_usage(c->name, "%s", c->needs);
    const char *db = c->db ? *c->db : NULL;
    if (c->db_first && db == NULL)
        return tq_cli_usage(c->name, "needs --db DIR");
    if (c->check && (rc = c->check(c)) != 0)
        return rc;
    c->s = NULL;
    int nosync = c->nosync && *c->nosync;
    if (c->store != TQ_CLI_NO_STORE &&
        (rc = tq_cli_open_store(c->name, db, c->store == TQ_CLI_WRITE, nosync, &c->s)) != 0)
        return rc;
    rc = c->run(c);
    tq_store_close(c->s);
    c->s = NULL;
    return rc;
}
