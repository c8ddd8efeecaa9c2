/*
 * fake_engine.h: test-only stand-ins for the engine.h functions export_tables.c calls, plus the
 * knobs the tests turn. Two devices, each with one primary context, a per-thread current context
 * and a small context-local store that keeps the destructors it is given.
 */
#ifndef BF_TEST_FAKE_ENGINE_H
#define BF_TEST_FAKE_ENGINE_H

#include "engine.h"

#define FAKE_DEVICE_COUNT 2

/* What bf_cl_check_init returns (CUDA_SUCCESS by default). */
void fake_engine_set_init_result(CUresult result);

/* The primary context of device `ordinal` (FAKE_DEVICE_COUNT of them). */
CUcontext fake_engine_ctx(int ordinal);

/* Makes ctx (or NULL: none) the calling thread's current context. */
void fake_engine_set_current(CUcontext ctx);

/* Destroys ctx's local storage as a context reset would, calling each destructor. */
void fake_engine_ctx_reset(CUcontext ctx);

/* How many times bf_unsupported was called, and the last name it got. */
int fake_engine_unsupported_calls(void);
const char *fake_engine_unsupported_last(void);

#endif
