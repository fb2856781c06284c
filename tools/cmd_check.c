/* cmd_check.c - the check and backup commands (placeholders until implemented). */
#include "tq_cli.h"

int tq_cmd_check(int argc, char **argv)
{
    (void)argc, (void)argv;
    return tq_cli_error(TQ_EXIT_SOFTWARE, "check: not implemented yet");
}

int tq_cmd_backup(int argc, char **argv)
{
    (void)argc, (void)argv;
    return tq_cli_error(TQ_EXIT_SOFTWARE, "backup: not implemented yet");
}
