#ifndef SWIFT_OCEAN_CLIBEVENT_SHIM_H
#define SWIFT_OCEAN_CLIBEVENT_SHIM_H

// These system headers must come before any event2/ header: event-config.h defines _GNU_SOURCE,
// and a clean build then sees two different definitions of fd_set and fails.
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <event2/bufferevent.h>
#include <fcntl.h>

// Function-like macros and variadics do not import into Swift: small inline shims instead.

/// A wake-up channel for a loop: an eventfd that other threads write to and the loop reads.
/// (Chosen over `event_active` because that needs `evthread_use_pthreads`, which puts a lock around
/// every libevent operation of every request; see BENCHMARKS.md.) Returns -1 on failure.
static inline int swift_ocean_wakeup_open(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

/// Wakes the loop watching `fd`; safe from any thread.
static inline void swift_ocean_wakeup_signal(int fd) {
    uint64_t one = 1;
    ssize_t written = write(fd, &one, sizeof one);
    (void)written; /* only EAGAIN can fail here, when the counter is already huge: the loop is awake anyway */
}

/// Clears pending wake-ups; on the loop thread, before draining its queue.
static inline void swift_ocean_wakeup_reset(int fd) {
    uint64_t value;
    ssize_t got = read(fd, &value, sizeof value);
    (void)got;
}

/// A persistent read event on a wake-up fd.
static inline struct event *swift_ocean_wakeup_event_new(struct event_base *base, int fd,
                                                         event_callback_fn callback, void *arg) {
    return event_new(base, fd, EV_READ | EV_PERSIST, callback, arg);
}

/// A one-shot timer event.
static inline struct event *swift_ocean_timer_new(struct event_base *base,
                                                  event_callback_fn callback, void *arg) {
    return event_new(base, -1, 0, callback, arg);
}

/// A persistent timer event (re-armed by libevent after each run, at the interval `event_add` got).
static inline struct event *swift_ocean_periodic_new(struct event_base *base,
                                                     event_callback_fn callback, void *arg) {
    return event_new(base, -1, EV_PERSIST, callback, arg);
}

static inline int swift_ocean_timer_add_ms(struct event *ev, long milliseconds) {
    struct timeval tv;
    tv.tv_sec = milliseconds / 1000;
    tv.tv_usec = (milliseconds % 1000) * 1000;
    return event_add(ev, &tv);
}

/// Walks a header list (the queue macros do not import).
static inline struct evkeyval *swift_ocean_headers_first(struct evkeyvalq *headers) {
    return headers->tqh_first;
}

static inline struct evkeyval *swift_ocean_headers_next(struct evkeyval *header) {
    return header->next.tqe_next;
}

/// Ignores SIGPIPE: a client that closes early must not kill the process.
static inline void swift_ocean_ignore_sigpipe(void) {
    signal(SIGPIPE, SIG_IGN);
}

#endif
