/* The ceiling for `make bench-http`: the smallest evhttp server answering GET /health/live the way
 * the Swift server does (JSON body, Content-Type, X-Request-ID), one loop thread. */
#include <sys/types.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

static unsigned long counter = 0;

static void handle(struct evhttp_request *req, void *arg) {
    (void)arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    char id[32];
    snprintf(id, sizeof id, "c0ffee00-0-%lx", counter++);
    evhttp_add_header(out, "X-Request-ID", id);
    if (path && strcmp(path, "/health/live") == 0) {
        evhttp_add_header(out, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), "{\"status\":\"ok\"}", 15);
        evhttp_send_reply(req, 200, "OK", NULL);
    } else {
        evhttp_send_reply(req, 404, "Not Found", NULL);
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8001;
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    evhttp_set_default_content_type(http, NULL);
    evhttp_set_max_body_size(http, 1 << 20);
    evhttp_set_timeout(http, 30);
    evhttp_set_gencb(http, handle, NULL);
    if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)port) != 0) {
        fprintf(stderr, "cannot bind 127.0.0.1:%d\n", port);
        return 1;
    }
    event_base_dispatch(base);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
