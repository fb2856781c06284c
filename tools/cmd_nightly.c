/* cmd_nightly.c - the nightly command (placeholder until implemented). */
#include "tq_cli.h"

int tq_cmd_nightly(int argc, char **argv)
{
    (void)argc, (void)argv;
    return tq_cli_error(TQ_EXIT_SOFTWARE, "nightly: not implemented yet");
}
