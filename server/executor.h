/*
 * executor.h: runs one op through its handler while the heartbeat thread watches.
 *
 * A client waiting for a reply declares the server dead after BF_HEARTBEAT_TIMEOUT_MS of silence,
 * so while an op executes longer than BF_HEARTBEAT_INTERVAL_MS the heartbeat thread sends HEARTBEAT
 * frames (posted, request id 0) every interval. Posted ops count too: a client's waited op may be
 * queued behind a long posted one, and the client is already waiting then.
 */
#ifndef BF_SRV_EXECUTOR_H
#define BF_SRV_EXECUTOR_H

#include "handlers/handlers.h"

/* Starts the heartbeat thread. Returns BF_OK or BF_NO_MEMORY (thread creation failed, logged). */
bf_status_t bf_srv_heartbeat_start(bf_srv_session_t *session);

/* Stops and joins the heartbeat thread; safe to call when it never started. */
void bf_srv_heartbeat_stop(bf_srv_session_t *session);

/* Executes call through bf_srv_handlers[call->op], marked busy for the heartbeat thread. */
CUresult bf_srv_execute(bf_srv_session_t *session, bf_srv_call_t *call);

#endif
