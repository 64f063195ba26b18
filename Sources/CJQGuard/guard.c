// Runs libjq calls so that a trap, an abort or an endless loop inside libjq fails the call instead
// of the process. See include/CJQGuard.h for what and why.
#define _GNU_SOURCE
#include "CJQGuard.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/// One thread's guard: where to return to, and since when its current libjq call runs.
typedef struct guard {
    sigjmp_buf resume;
    /// 1 while the thread is inside a guarded libjq call.
    volatile sig_atomic_t active;
    /// The thread's CPU time at the start of the current call (0 when idle), for the watchdog: CPU
    /// time, not wall time, so a loaded machine does not stop a call that is merely waiting its turn.
    _Atomic long long started;
    clockid_t cpu_clock;
    /// The `started` of the call the watchdog stopped (0 for none): set before it signals the
    /// thread, so a signal that arrives after that call ended does not stop the next one.
    _Atomic long long stopped_call;
    pthread_t thread;
    struct guard *next;
} guard;

static __thread guard *current_guard;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static guard *registry;
static pthread_once_t installed = PTHREAD_ONCE_INIT;
static _Atomic long time_limit_ms = 5000;

/// The signal the watchdog sends to a thread whose call ran too long.
#define WATCHDOG_SIGNAL SIGUSR2

static const int fault_signals[] = {SIGFPE, SIGSEGV, SIGBUS, SIGILL, SIGABRT};
#define FAULT_SIGNAL_COUNT (sizeof fault_signals / sizeof fault_signals[0])
static struct sigaction previous[FAULT_SIGNAL_COUNT];

static long long cpu_ns(clockid_t clock) {
    struct timespec time;
    if (clock_gettime(clock, &time) != 0) return 0;
    return (long long)time.tv_sec * 1000000000LL + time.tv_nsec + 1;  // never 0: 0 means idle
}

/// Hands a signal that did not come from a guarded call to whoever handled it before (the Swift
/// runtime's crash reporter, or the default action).
static void pass_on(int signal_number, siginfo_t *info, void *context) {
    for (size_t index = 0; index < FAULT_SIGNAL_COUNT; index++) {
        if (fault_signals[index] != signal_number) continue;
        struct sigaction *before = &previous[index];
        if ((before->sa_flags & SA_SIGINFO) && before->sa_sigaction) {
            before->sa_sigaction(signal_number, info, context);
            return;
        }
        if (before->sa_handler == SIG_IGN) return;
        if (before->sa_handler != SIG_DFL && before->sa_handler) {
            before->sa_handler(signal_number);
            return;
        }
        signal(signal_number, SIG_DFL);
        raise(signal_number);
        return;
    }
}

static void on_signal(int signal_number, siginfo_t *info, void *context) {
    guard *current = current_guard;
    if (current && current->active) {
        if (signal_number == WATCHDOG_SIGNAL
            && atomic_load(&current->stopped_call) != atomic_load(&current->started)) return;
        current->active = 0;
        siglongjmp(current->resume, signal_number);
    }
    // The watchdog's signal for a call that has just ended: nothing to do.
    if (signal_number == WATCHDOG_SIGNAL) return;
    pass_on(signal_number, info, context);
}

static void *watchdog(void *unused) {
    (void)unused;
    for (;;) {
        struct timespec pause = {0, 50 * 1000000L};
        nanosleep(&pause, NULL);
        long limit = atomic_load(&time_limit_ms);
        if (limit <= 0) continue;
        pthread_mutex_lock(&registry_lock);
        for (guard *each = registry; each; each = each->next) {
            long long started = atomic_load(&each->started);
            if (started == 0 || atomic_load(&each->stopped_call) == started) continue;
            long long now = cpu_ns(each->cpu_clock);
            if (now != 0 && now - started > (long long)limit * 1000000LL) {
                atomic_store(&each->stopped_call, started);
                pthread_kill(each->thread, WATCHDOG_SIGNAL);
            }
        }
        pthread_mutex_unlock(&registry_lock);
    }
    return NULL;
}

static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_signal;
    // SA_NODEFER: the signal stays unblocked after the jump (sigsetjmp does not save the mask, to
    // keep a guarded call as cheap as a plain call); SA_ONSTACK: a stack overflow is caught too.
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    for (size_t index = 0; index < FAULT_SIGNAL_COUNT; index++) {
        sigaction(fault_signals[index], &action, &previous[index]);
    }
    sigaction(WATCHDOG_SIGNAL, &action, NULL);
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_create(&thread, &attributes, watchdog, NULL);
    pthread_attr_destroy(&attributes);
}

void swift_ocean_jq_guard_thread(void) {
    pthread_once(&installed, install);
    if (current_guard) return;
    guard *created = calloc(1, sizeof(guard));
    if (!created) return;
    created->thread = pthread_self();
    if (pthread_getcpuclockid(created->thread, &created->cpu_clock) != 0) created->cpu_clock = CLOCK_THREAD_CPUTIME_ID;
    // Threads started from runtime threads inherit a mask that blocks most signals: the watchdog's
    // signal and the faults must reach this one.
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, WATCHDOG_SIGNAL);
    for (size_t index = 0; index < FAULT_SIGNAL_COUNT; index++) sigaddset(&wanted, fault_signals[index]);
    pthread_sigmask(SIG_UNBLOCK, &wanted, NULL);
    // An alternate stack for the handler: a stack overflow leaves no room on the thread's own.
    stack_t alternate;
    memset(&alternate, 0, sizeof alternate);
    alternate.ss_size = 64 * 1024;
    alternate.ss_sp = malloc(alternate.ss_size);
    if (alternate.ss_sp) sigaltstack(&alternate, NULL);
    // The guard and its stack live as long as the thread may run jq; threads that run jq are
    // few and long-lived (the mapping workers), so neither is ever freed.
    pthread_mutex_lock(&registry_lock);
    created->next = registry;
    registry = created;
    pthread_mutex_unlock(&registry_lock);
    current_guard = created;
}

static swift_ocean_jq_outcome ended(guard *current, int jumped, int *signal_out) {
    atomic_store(&current->started, 0);
    if (!jumped) return SWIFT_OCEAN_JQ_OK;
    if (signal_out) *signal_out = jumped;
    // The handler jumps on the watchdog's signal only for the call the watchdog stopped.
    return jumped == WATCHDOG_SIGNAL ? SWIFT_OCEAN_JQ_TIMED_OUT : SWIFT_OCEAN_JQ_CRASHED;
}

/// Runs `call(context)`, one libjq call, under the calling thread's guard. The sigsetjmp frame is
/// this function's, alive for the whole call, so a jump from the handler lands here.
static swift_ocean_jq_outcome run_guarded(void (*call)(void *), void *context, int *signal_out) {
    swift_ocean_jq_guard_thread();
    guard *current = current_guard;
    if (!current) {
        call(context);
        return SWIFT_OCEAN_JQ_OK;
    }
    int jumped = sigsetjmp(current->resume, 0);
    if (jumped == 0) {
        atomic_store(&current->started, cpu_ns(CLOCK_THREAD_CPUTIME_ID));
        current->active = 1;
        call(context);
        current->active = 0;
    }
    return ended(current, jumped, signal_out);
}

typedef struct { jq_state *jq; jv input; int flags; } start_call;
typedef struct { jq_state *jq; jv *out; } next_call;

static void call_start(void *context) {
    start_call *call = context;
    jq_start(call->jq, call->input, call->flags);
}

static void call_next(void *context) {
    next_call *call = context;
    *call->out = jq_next(call->jq);
}

swift_ocean_jq_outcome swift_ocean_jq_start(jq_state *jq, jv input, int flags, int *signal_out) {
    start_call call = {jq, input, flags};
    return run_guarded(call_start, &call, signal_out);
}

swift_ocean_jq_outcome swift_ocean_jq_next(jq_state *jq, jv *out, int *signal_out) {
    next_call call = {jq, out};
    return run_guarded(call_next, &call, signal_out);
}

void swift_ocean_jq_set_time_limit(long milliseconds) {
    atomic_store(&time_limit_ms, milliseconds);
}
