/*
 * output.h: what the driver writes to the worker's stdout and stderr goes to the client.
 *
 * A driver writes device printf output to file descriptor 1 and device-assert messages to file
 * descriptor 2 of the process it runs in, at its flush points (synchronisations, module loads and
 * unloads, context reset). bf-worker replaces both descriptors with memory files before it loads
 * the driver, and sends what is new in them to the client as OUTPUT frames: after any op that has a
 * reply (before that reply, so the client prints device output before the call that flushed it
 * returns) and at the end of the session. Posted ops never look at the files. The worker's own log
 * (and that of a driver built on common/bf_log) goes to a duplicate of the original stderr, named
 * by BF_LOG_FD.
 */
#ifndef BF_SRV_OUTPUT_H
#define BF_SRV_OUTPUT_H

#include "bf_status.h"

struct bf_srv_session;

/*
 * Replaces fds 1 and 2 with memory files and sends this process's log (BF_LOG_FD, set here) and
 * sanitizer reports to a duplicate of the original stderr. Call once, before the driver is loaded
 * and before any other thread starts. On failure (no memfd_create) output stays where it was and a
 * warning says so; returns BF_OK either way unless the log could not be redirected.
 */
bf_status_t bf_srv_output_capture(void);

/* Sends what the driver wrote since the last call as OUTPUT frames (fd 1 first, then fd 2).
 * Thread-safe; a no-op without capture. BF_OK, or the send's failure. */
bf_status_t bf_srv_output_flush(struct bf_srv_session *session);

#endif
