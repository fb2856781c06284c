/* cli_signal.c - how a command stops on SIGINT, SIGTERM and SIGHUP.
 *
 * Every command is covered from main(): a signal that ends the process first removes the
 * temporary files of its unfinished outputs (tq_out_cleanup_signal(), async-signal-safe)
 * and then dies by that signal as it would have.  A command that can stop cleanly (load,
 * replay, reconcile, pack) calls tq_cli_catch_signals(): the first SIGINT, SIGTERM or
 * SIGHUP then only sets tq_cli_stop, the command rolls back or commits what it must and
 * exits 128+N (130, 143, 129); a second one ends it at once, cleaning up the same way.
 */
#include "tq_cli.h"

#include <signal.h>
#include <string.h>

#include "tq_out.h"

volatile int tq_cli_stop = 0;
volatile int tq_cli_signal = 0;

static volatile sig_atomic_t clean_stop = 0;

static void die_by(int sig)
{
    tq_out_cleanup_signal();
    signal(sig, SIG_DFL);
    raise(sig);   /* blocked while in the handler: delivered as it returns */
}

static void on_signal(int sig)
{
    if (clean_stop && !tq_cli_stop && sig != SIGPIPE && sig != SIGQUIT) {
        tq_cli_stop = 1;
        tq_cli_signal = sig;
        return;
    }
    die_by(sig);
}

/* install() - our handler for the signals; unless `all`, a signal ignored by whoever
 * started us (nohup; a background job of a script ignores SIGINT) stays ignored.  A
 * command that stops cleanly takes SIGINT, SIGTERM and SIGHUP whatever, as it always
 * has; an ignored SIGPIPE (a write then fails with EPIPE) or SIGQUIT stays ignored. */
static void install(int all)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        int stops = sigs[i] != SIGPIPE && sigs[i] != SIGQUIT;
        if (!(all && stops) && sigaction(sigs[i], NULL, &old) == 0 &&
            old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

void tq_cli_cleanup_on_signals(void)
{
    install(0);
}

void tq_cli_catch_signals(void)
{
    clean_stop = 1;
    install(1);
}
