/*
 * crash_report.c: see crash_report.h.
 *
 * The handler only calls async-signal-safe functions, plus backtrace_symbols_fd, which does not
 * allocate; backtrace() itself may load libgcc on its first call, so install() calls it once
 * beforehand. It runs on an alternate stack (a stack overflow of the main thread still reports)
 * and then re-raises the signal with the default action, so the exit status stays the signal's.
 */
#include "crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bf_log.h"

#if defined(__SANITIZE_ADDRESS__)

void bf_srv_crash_report_install(void)
{
    /* AddressSanitizer reports fatal signals itself, with symbolised frames. */
}

#else

#define FRAMES_MAX 64

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

static void on_fatal_signal(int signo, siginfo_t *info, void *context)
{
    void *frames[FRAMES_MAX];
    char line[160];
    int fd = bf_log_fd();

    (void)context;
    /* snprintf is not on POSIX's async-signal-safe list, but glibc's integer and pointer
     * formatting takes no lock and does not allocate; the process is dying anyway. */
    int n = snprintf(line, sizeof(line), "bf-worker: fatal signal %d (%s) at address %p; backtrace:\n",
                     signo, strsignal(signo), info != NULL ? info->si_addr : NULL);
    if (n > 0)
        (void)!write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    backtrace_symbols_fd(frames, backtrace(frames, FRAMES_MAX), fd);
    raise(signo);  /* SA_RESETHAND restored the default action */
}

void bf_srv_crash_report_install(void)
{
    static char alt_stack[64 << 10];
    void *warm_up[1];
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof(alt_stack)};
    struct sigaction sa;

    (void)backtrace(warm_up, 1);
    (void)sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fatal_signal;
    sa.sa_flags     = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
        (void)sigaction(fatal_signals[i], &sa, NULL);
}

#endif
