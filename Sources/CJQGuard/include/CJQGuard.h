#ifndef SWIFT_OCEAN_CJQGUARD_H
#define SWIFT_OCEAN_CJQGUARD_H

#include <jq.h>
#include <jv.h>

/// libjq 1.6 traps or aborts the whole process on some inputs that jq 1.8 answers (SIGFPE for
/// `.a % .b` with a = 1e1000 and b = -1, assertions for NaN slice bounds, a non-string `strftime`
/// format, setting index 999999999) and loops for ever on others (`del(.a[nan])`, `"" * 1e9`).
/// These calls run jq so that such a record fails alone: a fault inside libjq, or an evaluation
/// longer than the time limit, returns here instead of taking the process down.
///
/// Only libjq's own frames are ever unwound (the guard is set and cleared in C around one libjq
/// call). After a fault the jq state is left as it is (never used or freed again): the caller
/// compiles a new one.

/// What a guarded call ended with.
typedef enum {
    SWIFT_OCEAN_JQ_OK = 0,
    /// A signal (SIGFPE, SIGSEGV, SIGBUS, SIGILL, SIGABRT) was raised inside libjq.
    SWIFT_OCEAN_JQ_CRASHED = 1,
    /// The call ran past the time limit and was stopped.
    SWIFT_OCEAN_JQ_TIMED_OUT = 2,
} swift_ocean_jq_outcome;

/// Prepares the calling thread for guarded calls (an alternate signal stack, so a stack overflow
/// in jq's recursion is caught too). Call once on each thread that runs jq; idempotent.
void swift_ocean_jq_guard_thread(void);

/// `jq_start` under the guard; on a fault the signal number is in `*signal_out`.
swift_ocean_jq_outcome swift_ocean_jq_start(jq_state *jq, jv input, int flags, int *signal_out);

/// `jq_next` under the guard; its result in `*out` when the outcome is OK.
swift_ocean_jq_outcome swift_ocean_jq_next(jq_state *jq, jv *out, int *signal_out);

/// The most CPU time one guarded call may take, in milliseconds (default 5000); 0 or less: no
/// limit. CPU time, so a loaded machine does not fail records that only waited for a core.
void swift_ocean_jq_set_time_limit(long milliseconds);

#endif
