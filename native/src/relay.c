/*
 * tslvs_relay: the proxy dataplane's TCP sockets without Node's stream machinery (Linux, epoll).
 *
 * The relay logic (what to read, where to write it, when to half-close, what the IPVS core
 * sees) stays in TypeScript (src/dataplane/proxy/relay-session.ts); this file only makes the
 * system calls, the way HAProxy's event loop makes them:
 *   - one epoll instance per relay, one JavaScript callback per batch of ready sockets, never
 *     one per socket or per read;
 *   - the thread waits for its relays' sockets itself, in one epoll_wait (see on_prepare): a
 *     libuv prepare handle, run just before libuv would block, blocks instead on a wait set that
 *     holds every relay's epoll descriptor and libuv's own (uv_backend_fd), for as long as libuv
 *     would have (uv_backend_timeout), and handles the relays' batches there until libuv has
 *     something to do. A wake-up costs one epoll_wait and no turn of libuv's loop (a uv_poll on
 *     the relay's epoll descriptor cost three: libuv's, its idle-time metrics' zero-timeout
 *     one, and the relay's; plus a loop turn);
 *   - every connection socket is registered once, edge-triggered for IN|OUT|RDHUP, and leaves
 *     the epoll set when it is closed: two epoll_ctl per relayed connection, no MOD, no DEL;
 *   - accept4 hands over the descriptor and the peer address together (no getpeername), in
 *     batches; accepted sockets inherit TCP_NODELAY from the listener;
 *   - a connect's outcome is the first readiness of its socket; SO_ERROR is read only when
 *     epoll reports an error;
 *   - a listener can be bound with SO_REUSEPORT, so several threads can each accept on their own.
 * Sockets are plain integers on the JavaScript side; no object is created per connection.
 *
 * Every call returns a non-negative result or a negative errno (Linux errno, as libuv's).
 *
 * The bytes themselves: pump(id, from, to) reads once from one socket into the relay's scratch
 * buffer (a Buffer JavaScript hands over with setScratch and owns) and writes what it got to the
 * other, in one call; JavaScript sees the counts and keeps the scratch buffer as pending data
 * when the write fell short.
 *
 * Layout shared with JavaScript (src/dataplane/proxy/relay-addon.ts):
 *   io       = Int32Array (per thread): io[0] = the result of pump()'s write
 *   events   = Int32Array, 2 ints per ready socket: [fd, epoll events]
 *   accepted = Int32Array, ACC_STRIDE ints per accepted connection:
 *              [fd, peer port, w0, w1, w2, w3] (IPv4: w0 is the address in host order;
 *              IPv6: the four 32-bit words in host order, as src/core/addr.ts keeps them)
 */
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define EV_CAP 512
#define ACC_CAP 256
#define ACC_STRIDE 6

/* listen() flags */
#define L_REUSEPORT 1

#define MAX_RELAYS 256

typedef struct relay {
  int id;             /* index in the env's table, what pump() and setScratch() take */
  uint8_t *scratch;   /* the Buffer every pump() reads into (set by setScratch) */
  size_t scratch_len;
  int epfd;
  napi_env env;
  napi_ref self_ref;  /* strong while open, so the handle outlives its callbacks */
  napi_ref cb_ref;
  napi_async_context actx;
  int refd;           /* whether this relay keeps the event loop alive */
  int finalized;
  int32_t *ev;
  int32_t *acc;
  struct epoll_event evbuf[EV_CAP];
} relay_t;

/* Per thread (N-API environment): its relays by id, and `io`, where pump() leaves the write's result. */
typedef struct env_data {
  relay_t *relays[MAX_RELAYS];
  int32_t *io;
  uv_loop_t *loop;
  /* The wait set: every open relay's epoll descriptor (data: its id) and libuv's (WAIT_UV). */
  int waitfd;
  int nopen, nref;
  uv_prepare_t *prep;  /* heap: it may outlive this struct until its close callback */
  uv_idle_t *idle;     /* started when on_prepare returns: libuv's next poll must not block */
} env_data_t;

#define WAIT_UV 0xffffffffu

static env_data_t *env_data(napi_env env) {
  void *d = NULL;
  napi_get_instance_data(env, &d);
  return d;
}

/* ---------- N-API helpers ---------- */

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value i32(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

static int32_t arg_i32(napi_env env, napi_value v) {
  int32_t x = 0;
  napi_get_value_int32(env, v, &x);
  return x;
}

static uint32_t arg_u32(napi_env env, napi_value v) {
  uint32_t x = 0;
  napi_get_value_uint32(env, v, &x);
  return x;
}

static relay_t *unwrap(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_unwrap(env, v, &p) != napi_ok || !p) {
    throw_type(env, "not an open relay handle");
    return NULL;
  }
  relay_t *r = p;
  if (r->epfd < 0) {
    throw_type(env, "the relay is closed");
    return NULL;
  }
  return r;
}

/* A byte range of a Uint8Array argument, checked: NULL when off/len fall outside it. */
static uint8_t *byte_range(napi_env env, napi_value ta, uint32_t off, uint32_t len) {
  napi_typedarray_type tt;
  size_t n, boff;
  void *data = NULL;
  if (napi_get_typedarray_info(env, ta, &tt, &n, &data, NULL, &boff) != napi_ok || tt != napi_uint8_array) return NULL;
  if ((size_t)off > n || (size_t)len > n - off || data == NULL) return NULL;
  return (uint8_t *)data + off;
}

/* ---------- lifetime ---------- */

static void wait_ref(env_data_t *ed, relay_t *r, int on) {
  if (!ed || r->refd == on) return;
  r->refd = on;
  ed->nref += on ? 1 : -1;
  if (!ed->prep) return;
  if (ed->nref > 0) uv_ref((uv_handle_t *)ed->prep);
  else uv_unref((uv_handle_t *)ed->prep);
}

/* The relay leaves its thread's table and wait set (its epoll descriptor is still open). */
static void forget(napi_env env, relay_t *r) {
  env_data_t *ed = env_data(env);
  if (ed && r->id >= 0 && ed->relays[r->id] == r) {
    wait_ref(ed, r, 0);
    ed->relays[r->id] = NULL;
    if (r->epfd >= 0 && ed->waitfd >= 0) epoll_ctl(ed->waitfd, EPOLL_CTL_DEL, r->epfd, NULL);
    if (--ed->nopen == 0 && ed->prep) uv_prepare_stop(ed->prep);
  }
  r->id = -1;
  r->scratch = NULL;
  r->scratch_len = 0;
}

static void do_close(napi_env env, relay_t *r) {
  if (r->epfd < 0) return;
  forget(env, r);
  close(r->epfd);
  r->epfd = -1;
  if (r->cb_ref) { napi_delete_reference(env, r->cb_ref); r->cb_ref = NULL; }
  if (r->actx) { napi_async_destroy(env, r->actx); r->actx = NULL; }
  if (r->self_ref) { uint32_t rc; napi_reference_unref(env, r->self_ref, &rc); }
}

static void finalize(napi_env env, void *data, void *hint) {
  relay_t *r = data;
  forget(env, r);
  if (r->epfd >= 0) {
    close(r->epfd);
    r->epfd = -1;
  }
  if (r->self_ref) { napi_delete_reference(env, r->self_ref); r->self_ref = NULL; }
  free(r);
}

/* ---------- readiness: one JavaScript call per batch ---------- */

/*
 * Relay `id`'s ready sockets, one JavaScript call per batch; a full batch may leave more
 * behind, which the wait set reports again (level-triggered).
 */
static void drain(env_data_t *ed, uint32_t id) {
  relay_t *r = id < MAX_RELAYS ? ed->relays[id] : NULL;
  if (!r || r->epfd < 0 || !r->cb_ref) return;
  int n;
  do n = epoll_wait(r->epfd, r->evbuf, EV_CAP, 0); while (n < 0 && errno == EINTR);
  if (n <= 0) return;
  for (int i = 0; i < n; i++) {
    r->ev[2 * i] = r->evbuf[i].data.fd;
    r->ev[2 * i + 1] = (int32_t)r->evbuf[i].events;
  }
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, arg;
  napi_get_reference_value(env, r->cb_ref, &cb);
  napi_get_global(env, &recv);
  napi_create_int32(env, n, &arg);
  napi_status st = napi_make_callback(env, r->actx, recv, cb, 1, &arg, NULL);
  if (st == napi_pending_exception) {
    napi_value e;
    napi_get_and_clear_last_exception(env, &e);
    napi_fatal_exception(env, e);
  }
  napi_close_handle_scope(env, scope);
}

/*
 * Run by libuv just before it would block for I/O: block here instead, on the relays and on
 * libuv's own descriptor, for no longer than libuv would (its next timer; zero when callbacks
 * are pending), and handle the relays' batches until libuv has something to do or a timer is
 * due. JavaScript run from here (a batch) may queue work for libuv (an immediate, a closed
 * handle, a timer): the timeout is asked again after every batch.
 */
/*
 * libuv adds and changes its own descriptors' epoll registrations only in its poll (the
 * watcher queue): with changes queued (a socket JavaScript just opened), blocking here would
 * keep them from being watched.
 */
static int uv_changes_queued(uv_loop_t *loop) {
  return loop->watcher_queue.next != &loop->watcher_queue;
}

static void on_idle(uv_idle_t *h) {
  uv_idle_stop(h);
}

static void on_prepare(uv_prepare_t *h) {
  env_data_t *ed = h->data;
  uv_loop_t *loop = ed->loop;
  struct epoll_event evs[64];
  /*
   * The relays are not in libuv's epoll set, so libuv must not block once this returns: the
   * idle handle, started on the way out, makes its poll a zero-timeout one, after which this
   * runs again. Returns when libuv has something to do (its descriptor is ready, a timer is
   * due, callbacks or immediates are pending, or it has descriptors to register).
   */
  for (int rounds = 0;; rounds++) {
    if (ed->waitfd < 0 || ed->nopen == 0) break;
    uv_update_time(loop);
    int timeout = uv_backend_timeout(loop);
    int leave = timeout == 0 || uv_changes_queued(loop);
    if (leave && rounds > 0) break;
    int n = epoll_wait(ed->waitfd, evs, 64, leave ? 0 : timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) break;
    int uv_ready = 0;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.u32 == WAIT_UV) uv_ready = 1;
      else drain(ed, evs[i].data.u32);
    }
    if (uv_ready) break;
  }
  uv_update_time(loop);
  if (ed->idle) uv_idle_start(ed->idle, on_idle);
}

static void on_idle_closed(uv_handle_t *h) {
  free(h);
}

static void on_prep_closed(uv_handle_t *h) {
  free(h);
}

/* The thread's wait set and prepare handle, made with its first relay. */
static int wait_init(napi_env env, env_data_t *ed) {
  if (ed->prep) return 0;
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return -EINVAL;
  int wfd = epoll_create1(EPOLL_CLOEXEC);
  if (wfd < 0) return -errno;
  struct epoll_event e;
  e.events = EPOLLIN;
  e.data.u64 = 0;
  e.data.u32 = WAIT_UV;
  if (epoll_ctl(wfd, EPOLL_CTL_ADD, uv_backend_fd(loop), &e) < 0) {
    int err = -errno;
    close(wfd);
    return err;
  }
  uv_prepare_t *p = calloc(1, sizeof *p);
  uv_idle_t *idle = calloc(1, sizeof *idle);
  if (!p || !idle) {
    free(p);
    free(idle);
    close(wfd);
    return -ENOMEM;
  }
  uv_idle_init(loop, idle);
  uv_unref((uv_handle_t *)idle);
  ed->idle = idle;
  uv_prepare_init(loop, p);
  p->data = ed;
  uv_unref((uv_handle_t *)p);
  ed->loop = loop;
  ed->waitfd = wfd;
  ed->prep = p;
  return 0;
}

/* open(cb) -> { epfd, events, accepted }: cb(n) runs with n ready sockets in `events`. */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) return throw_type(env, "open(callback)");
  env_data_t *ed = env_data(env);
  int id = -1;
  for (int i = 0; ed && i < MAX_RELAYS; i++) if (!ed->relays[i]) { id = i; break; }
  if (id < 0) return throw_type(env, "too many open relays in this thread");
  relay_t *r = calloc(1, sizeof *r);
  if (!r) return throw_type(env, "out of memory");
  r->id = id;
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (r->epfd < 0) {
    int e = errno;
    free(r);
    char msg[128];
    snprintf(msg, sizeof msg, "epoll_create1: %s", strerror(e));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  r->env = env;
  int werr = wait_init(env, ed);
  struct epoll_event we;
  we.events = EPOLLIN;
  we.data.u64 = 0;
  we.data.u32 = (uint32_t)id;
  if (werr == 0 && epoll_ctl(ed->waitfd, EPOLL_CTL_ADD, r->epfd, &we) < 0) werr = -errno;
  if (werr < 0) {
    close(r->epfd);
    free(r);
    char msg[128];
    snprintf(msg, sizeof msg, "the relay's wait set: %s", strerror(-werr));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }

  napi_value obj, ab, ta;
  napi_create_object(env, &obj);
  void *mem;
  napi_create_arraybuffer(env, EV_CAP * 2 * sizeof(int32_t), &mem, &ab);
  r->ev = mem;
  napi_create_typedarray(env, napi_int32_array, EV_CAP * 2, ab, 0, &ta);
  napi_set_named_property(env, obj, "events", ta);
  napi_create_arraybuffer(env, ACC_CAP * ACC_STRIDE * sizeof(int32_t), &mem, &ab);
  r->acc = mem;
  napi_create_typedarray(env, napi_int32_array, ACC_CAP * ACC_STRIDE, ab, 0, &ta);
  napi_set_named_property(env, obj, "accepted", ta);
  napi_set_named_property(env, obj, "epfd", i32(env, r->epfd));
  napi_set_named_property(env, obj, "id", i32(env, r->id));
  ed->relays[id] = r;
  if (ed->nopen++ == 0) uv_prepare_start(ed->prep, on_prepare);
  napi_wrap(env, obj, r, finalize, NULL, NULL);
  /* The ArrayBuffers are properties of obj, so they live as long as the handle. */
  napi_create_reference(env, obj, 1, &r->self_ref);
  napi_create_reference(env, argv[0], 1, &r->cb_ref);
  napi_value name;
  napi_create_string_utf8(env, "tslvs:relay", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &r->actx);
  return obj;
}

/* close(h): stop watching and close the epoll descriptor (sockets are closed by their owners). */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  if (argc < 1 || napi_unwrap(env, argv[0], &p) != napi_ok || !p) return NULL;
  do_close(env, p);
  return NULL;
}

/* ref(h, on): whether the relay keeps the event loop alive. */
static napi_value js_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  relay_t *r = unwrap(env, argv[0]);
  if (!r) return NULL;
  bool on = false;
  napi_get_value_bool(env, argv[1], &on);
  wait_ref(env_data(env), r, on ? 1 : 0);
  return NULL;
}

/* ---------- sockets ---------- */

static int add_et(int epfd, int fd) {
  struct epoll_event e;
  e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  e.data.u64 = 0;
  e.data.fd = fd;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
}

static int fill_sockaddr(int af, const char *text, uint32_t port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (af == 10) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1) return -EINVAL;
    *len = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, text, &s4->sin_addr) != 1) return -EINVAL;
    *len = sizeof *s4;
  }
  return 0;
}

/* listen(epfd, af (2|10), addr text, port, backlog, flags) -> fd | -errno */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) return throw_type(env, "listen(epfd, af, addr, port, backlog, flags)");
  int epfd = arg_i32(env, argv[0]);
  int af = arg_i32(env, argv[1]);
  char text[64];
  size_t tl = 0;
  if (napi_get_value_string_utf8(env, argv[2], text, sizeof text, &tl) != napi_ok) return throw_type(env, "addr must be a string");
  uint32_t port = arg_u32(env, argv[3]);
  int backlog = arg_i32(env, argv[4]);
  uint32_t flags = arg_u32(env, argv[5]);
  struct sockaddr_storage ss;
  socklen_t sl;
  int err = fill_sockaddr(af, text, port, &ss, &sl);
  if (err) return i32(env, err);
  int fd = socket(af == 10 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return i32(env, -errno);
  int one = 1;
  /* As libuv binds: SO_REUSEADDR, and IPv6 sockets only for IPv6 (UV_TCP_IPV6ONLY). */
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) goto fail;
  if ((flags & L_REUSEPORT) && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) goto fail;
  if (af == 10 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) goto fail;
  /* Accepted sockets inherit it (the listener's tcp_sock is cloned): no setsockopt per connection. */
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) goto fail;
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0) goto fail;
  if (listen(fd, backlog) < 0) goto fail;
  struct epoll_event e;
  e.events = EPOLLIN;
  e.data.u64 = 0;
  e.data.fd = fd;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) goto fail;
  return i32(env, fd);
fail:
  err = -errno;
  close(fd);
  return i32(env, err);
}

/* watch(epfd, lfd, on): a listener's readiness on or off (paused after EMFILE). */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int epfd = arg_i32(env, argv[0]);
  int fd = arg_i32(env, argv[1]);
  bool on = false;
  napi_get_value_bool(env, argv[2], &on);
  struct epoll_event e;
  e.events = on ? EPOLLIN : 0;
  e.data.u64 = 0;
  e.data.fd = fd;
  return i32(env, epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &e) < 0 ? -errno : 0);
}

/*
 * accept(h, lfd, max, watch) -> n | -errno: up to max connections, described in h.accepted and,
 * with watch, registered with the relay's epoll (without: another thread's relay adopts them).
 * -errno only when the first accept4 fails (EAGAIN: none).
 */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  relay_t *r = unwrap(env, argv[0]);
  if (!r) return NULL;
  int lfd = arg_i32(env, argv[1]);
  uint32_t max = arg_u32(env, argv[2]);
  bool watch = true;
  if (argc > 3) napi_get_value_bool(env, argv[3], &watch);
  if (max > ACC_CAP) max = ACC_CAP;
  uint32_t n = 0;
  while (n < max) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == EINTR || e == ECONNABORTED) continue;
      if (n == 0) return i32(env, -e);
      break;
    }
    if (watch && add_et(r->epfd, fd) < 0) {
      int e = errno;
      close(fd);
      if (n == 0) return i32(env, -e);
      break;
    }
    int32_t *o = r->acc + n * ACC_STRIDE;
    o[0] = fd;
    if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
      uint32_t w[4];
      memcpy(w, &s6->sin6_addr, 16);
      o[1] = ntohs(s6->sin6_port);
      o[2] = (int32_t)ntohl(w[0]);
      o[3] = (int32_t)ntohl(w[1]);
      o[4] = (int32_t)ntohl(w[2]);
      o[5] = (int32_t)ntohl(w[3]);
    } else {
      struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
      o[1] = ntohs(s4->sin_port);
      o[2] = (int32_t)ntohl(s4->sin_addr.s_addr);
      o[3] = 0;
      o[4] = 0;
      o[5] = 0;
    }
    n++;
  }
  return i32(env, (int32_t)n);
}

/*
 * connect(epfd, af, w0, w1, w2, w3, port) -> fd | -errno: a non-blocking connect, registered with
 * the epoll set; its first readiness tells the outcome (OUT: connected; ERR/HUP: see soError).
 */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 7) return throw_type(env, "connect(epfd, af, w0, w1, w2, w3, port)");
  int epfd = arg_i32(env, argv[0]);
  int af = arg_i32(env, argv[1]);
  uint32_t w[4];
  for (int i = 0; i < 4; i++) w[i] = arg_u32(env, argv[2 + i]);
  uint32_t port = arg_u32(env, argv[6]);
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  if (af == 10) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    uint32_t nw[4] = { htonl(w[0]), htonl(w[1]), htonl(w[2]), htonl(w[3]) };
    memcpy(&s6->sin6_addr, nw, 16);
    sl = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    s4->sin_addr.s_addr = htonl(w[0]);
    sl = sizeof *s4;
  }
  int fd = socket(af == 10 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return i32(env, -errno);
  int one = 1;
  int err;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) goto fail;
  if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) goto fail;
  if (add_et(epfd, fd) < 0) goto fail;
  return i32(env, fd);
fail:
  err = -errno;
  close(fd);
  return i32(env, err);
}

/* read(fd, u8, off, len) -> n | 0 (end of stream) | -errno (-EAGAIN: nothing now) */
static napi_value js_read(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = arg_i32(env, argv[0]);
  uint32_t off = arg_u32(env, argv[2]);
  uint32_t len = arg_u32(env, argv[3]);
  uint8_t *p = byte_range(env, argv[1], off, len);
  if (!p) return throw_type(env, "read(fd, Uint8Array, off, len): range outside the array");
  ssize_t n;
  do n = recv(fd, p, len, 0); while (n < 0 && errno == EINTR);
  return i32(env, n < 0 ? -errno : (int32_t)n);
}

/* write(fd, u8, off, len) -> bytes taken | -errno (-EAGAIN: none) */
static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = arg_i32(env, argv[0]);
  uint32_t off = arg_u32(env, argv[2]);
  uint32_t len = arg_u32(env, argv[3]);
  uint8_t *p = byte_range(env, argv[1], off, len);
  if (!p) return throw_type(env, "write(fd, Uint8Array, off, len): range outside the array");
  ssize_t n;
  do n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT); while (n < 0 && errno == EINTR);
  return i32(env, n < 0 ? -errno : (int32_t)n);
}

/* setScratch(id, u8): the buffer relay `id`'s pump() reads into, until the next call. */
static napi_value js_set_scratch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  env_data_t *ed = env_data(env);
  int32_t id = arg_i32(env, argv[0]);
  if (!ed || id < 0 || id >= MAX_RELAYS || !ed->relays[id]) return throw_type(env, "setScratch: not an open relay");
  napi_typedarray_type tt;
  size_t n, boff;
  void *data = NULL;
  if (napi_get_typedarray_info(env, argv[1], &tt, &n, &data, NULL, &boff) != napi_ok || tt != napi_uint8_array || !data || n == 0)
    return throw_type(env, "setScratch(id, Uint8Array)");
  ed->relays[id]->scratch = data;
  ed->relays[id]->scratch_len = n;
  return NULL;
}

/*
 * pump(id, from, to) -> n | 0 (end of stream) | -errno (-EAGAIN: nothing now): one read from
 * `from` into the relay's scratch buffer and, when it got n > 0 bytes, one write of them to
 * `to`, whose result (bytes taken or -errno) is left in io[0]. The relay's one call per chunk.
 */
static napi_value js_pump(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  env_data_t *ed = env_data(env);
  int32_t id = arg_i32(env, argv[0]);
  relay_t *r = ed && id >= 0 && id < MAX_RELAYS ? ed->relays[id] : NULL;
  if (!r || !r->scratch) return throw_type(env, "pump: not an open relay with a scratch buffer");
  int from = arg_i32(env, argv[1]);
  int to = arg_i32(env, argv[2]);
  ssize_t n;
  do n = recv(from, r->scratch, r->scratch_len, 0); while (n < 0 && errno == EINTR);
  if (n <= 0) return i32(env, n < 0 ? -errno : 0);
  ssize_t w;
  do w = send(to, r->scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT); while (w < 0 && errno == EINTR);
  ed->io[0] = w < 0 ? -errno : (int32_t)w;
  return i32(env, (int32_t)n);
}

/* closeMany(Int32Array, n): close n descriptors given as fd * 2 + (reset ? 1 : 0). */
static napi_value js_close_many(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_typedarray_type tt;
  size_t len, boff;
  void *data = NULL;
  if (napi_get_typedarray_info(env, argv[0], &tt, &len, &data, NULL, &boff) != napi_ok || tt != napi_int32_array)
    return throw_type(env, "closeMany(Int32Array, n)");
  uint32_t n = arg_u32(env, argv[1]);
  if (n > len) n = (uint32_t)len;
  const int32_t *c = data;
  struct linger l = { 1, 0 };
  for (uint32_t i = 0; i < n; i++) {
    int fd = c[i] >> 1;
    if (c[i] & 1) setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
  }
  return NULL;
}

/* shutdown(fd) -> 0 | -errno: SHUT_WR, our FIN after what was written. */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = arg_i32(env, argv[0]);
  return i32(env, shutdown(fd, SHUT_WR) < 0 ? -errno : 0);
}

/* closeFd(fd, reset) -> 0 | -errno: FIN after queued data, or RST (SO_LINGER 0) with reset. */
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = arg_i32(env, argv[0]);
  bool reset = false;
  if (argc > 1) napi_get_value_bool(env, argv[1], &reset);
  if (reset) {
    struct linger l = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  return i32(env, close(fd) < 0 ? -errno : 0);
}

/* soError(fd) -> -errno of a failed connect (SO_ERROR), or 0. */
static napi_value js_so_error(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = arg_i32(env, argv[0]);
  int e = 0;
  socklen_t l = sizeof e;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0) return i32(env, -errno);
  return i32(env, -e);
}

/* localPort(fd) -> the bound port (getsockname), or -errno; for listeners bound to port 0 in tests. */
static napi_value js_local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = arg_i32(env, argv[0]);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) return i32(env, -errno);
  if (ss.ss_family == AF_INET6) return i32(env, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
  return i32(env, ntohs(((struct sockaddr_in *)&ss)->sin_port));
}

/*
 * eventfd(epfd) -> fd | -errno: a wake-up descriptor in the relay's epoll set (edge-triggered:
 * every signal is an edge, so the counter is never read). Threads hand each other work through
 * shared memory and signal its arrival with it.
 */
static napi_value js_eventfd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int epfd = arg_i32(env, argv[0]);
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return i32(env, -errno);
  struct epoll_event e;
  e.events = EPOLLIN | EPOLLET;
  e.data.u64 = 0;
  e.data.fd = fd;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
    int err = -errno;
    close(fd);
    return i32(env, err);
  }
  return i32(env, fd);
}

/* signal(fd) -> 0 | -errno: wake whoever watches this eventfd (from any thread). */
static napi_value js_signal(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = arg_i32(env, argv[0]);
  uint64_t one = 1;
  ssize_t n;
  do n = write(fd, &one, sizeof one); while (n < 0 && errno == EINTR);
  /* EAGAIN: the counter is full, so a wake-up is pending anyway. */
  return i32(env, n < 0 && errno != EAGAIN ? -errno : 0);
}

/* adopt(epfd, fd) -> 0 | -errno: register a connection socket another thread accepted. */
static napi_value js_adopt(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int epfd = arg_i32(env, argv[0]);
  int fd = arg_i32(env, argv[1]);
  return i32(env, add_et(epfd, fd) < 0 ? -errno : 0);
}

static void free_env_data(napi_env env, void *data, void *hint) {
  env_data_t *ed = data;
  if (ed->prep) {
    uv_prepare_stop(ed->prep);
    uv_close((uv_handle_t *)ed->prep, on_prep_closed);
    ed->prep = NULL;
  }
  if (ed->idle) {
    uv_idle_stop(ed->idle);
    uv_close((uv_handle_t *)ed->idle, on_idle_closed);
    ed->idle = NULL;
  }
  if (ed->waitfd >= 0) close(ed->waitfd);
  free(ed);
}

static napi_value init(napi_env env, napi_value exports) {
  env_data_t *ed = calloc(1, sizeof *ed);
  if (!ed) return throw_type(env, "out of memory");
  ed->waitfd = -1;
  napi_set_instance_data(env, ed, free_env_data, NULL);
  napi_value io_ab, io;
  void *io_mem;
  napi_create_arraybuffer(env, 4 * sizeof(int32_t), &io_mem, &io_ab);
  ed->io = io_mem;
  napi_create_typedarray(env, napi_int32_array, 4, io_ab, 0, &io);
  napi_set_named_property(env, exports, "io", io);
  napi_property_descriptor d[] = {
    { "setScratch", NULL, js_set_scratch, NULL, NULL, NULL, napi_default, NULL },
    { "pump", NULL, js_pump, NULL, NULL, NULL, napi_default, NULL },
    { "closeMany", NULL, js_close_many, NULL, NULL, NULL, napi_default, NULL },
    { "open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL },
    { "ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL },
    { "listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL },
    { "watch", NULL, js_watch, NULL, NULL, NULL, napi_default, NULL },
    { "accept", NULL, js_accept, NULL, NULL, NULL, napi_default, NULL },
    { "connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL },
    { "read", NULL, js_read, NULL, NULL, NULL, napi_default, NULL },
    { "write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL },
    { "shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_default, NULL },
    { "closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_default, NULL },
    { "soError", NULL, js_so_error, NULL, NULL, NULL, napi_default, NULL },
    { "localPort", NULL, js_local_port, NULL, NULL, NULL, napi_default, NULL },
    { "eventfd", NULL, js_eventfd, NULL, NULL, NULL, napi_default, NULL },
    { "signal", NULL, js_signal, NULL, NULL, NULL, napi_default, NULL },
    { "adopt", NULL, js_adopt, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  napi_value v;
  napi_create_uint32(env, ACC_STRIDE, &v);
  napi_set_named_property(env, exports, "ACC_STRIDE", v);
  napi_create_uint32(env, ACC_CAP, &v);
  napi_set_named_property(env, exports, "ACC_CAP", v);
  napi_create_uint32(env, EV_CAP, &v);
  napi_set_named_property(env, exports, "EV_CAP", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
