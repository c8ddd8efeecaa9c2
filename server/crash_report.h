/*
 * crash_report.h: a fatal signal in bf-worker (a bug in the worker or in its driver) leaves a line
 * and a backtrace in the worker's log before the process dies, so that bf-server's "worker killed
 * by SIGSEGV" has a cause next to it.
 */
#ifndef BF_SRV_CRASH_REPORT_H
#define BF_SRV_CRASH_REPORT_H

/* Installs the handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT (not under
 * AddressSanitizer, whose own reports are better). Call once, early, from the main thread. */
void bf_srv_crash_report_install(void);

#endif
