/*
 * tslvs_packet: the packet dataplane's window on the wire (Linux only).
 *
 * One AF_PACKET socket bound to one interface, with:
 *   - a classic BPF filter set from JavaScript (the program is built in
 *     src/dataplane/packet/filter.ts) so only frames for virtual services, ARP/ND
 *     and NAT replies reach userspace;
 *   - PACKET_VNET_HDR (checksum start/offset of partial checksums, GSO facts) and
 *     PACKET_AUXDATA (TP_STATUS_CSUMNOTREADY, VLAN tags the kernel took out of the frame);
 *   - batched receive from a TPACKET_V3 ring (option ring: 1; frames copied into the slots)
 *     or with recvmmsg, and batched send with sendmmsg, all through one shared ArrayBuffer:
 *     JavaScript gets one call per batch, never one per frame;
 *   - readiness through libuv (uv_poll): one JavaScript callback when the socket is readable.
 *
 * Layout shared with JavaScript (see src/dataplane/packet/native.ts):
 *   buffer  = slots * slotSize bytes of receive slots, then `scratch` bytes JavaScript may use
 *             for frames it builds (ARP replies, ICMP errors). A received frame starts at
 *             slot * slotSize + headroom, so encapsulation can grow it to the front in place.
 *   rxMeta  = Int32Array, META_STRIDE ints per received frame:
 *             [offset, length, flags, vlanTci, csumStart, csumOffset, gsoType<<16|gsoSize, pkttype]
 *   txMeta  = Int32Array, META_STRIDE ints per frame to send:
 *             [offset, length, flags, 0, csumStart, csumOffset, gsoType<<16|gsoSize, 0]
 * Offsets are into `buffer`; csumStart is counted from the first byte of the frame.
 */
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define META_STRIDE 8
#define MAX_BATCH 256

#define F_NEEDS_CSUM 1
#define F_CSUM_VALID 2
#define F_VLAN 4
#define F_TRUNC 8
#define F_GSO 16

typedef struct pkt {
  int fd;
  int ifindex;
  int vnet;          /* PACKET_VNET_HDR accepted */
  uint32_t slots, slot_size, headroom, scratch, batch;
  uint8_t *buf;
  size_t buf_len;
  int32_t *rx_meta;
  int32_t *tx_meta;
  uint32_t tx_cap;
  int last_errno;
  /* TPACKET_V3 receive ring (ring = 1): blocks the kernel fills, walked in recv(). */
  int ring;
  uint8_t *rmap;
  size_t rmap_len;
  uint32_t rblock_size, rblock_nr, rblock_cur, rpkt_left;
  uint8_t *rpkt;
  napi_env env;
  napi_ref self_ref;  /* strong while polling, so the handle outlives its callbacks */
  napi_ref cb_ref;
  napi_async_context actx;
  uv_poll_t poll;
  int poll_init, polling, closing, finalized, uv_closed;
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH][2];
  struct virtio_net_hdr vh[MAX_BATCH];
  struct sockaddr_ll names[MAX_BATCH];
  union { char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))]; struct cmsghdr align; } ctrl[MAX_BATCH];
} pkt_t;

/* ---------- errors ---------- */

static napi_value throw_errno(napi_env env, int err, const char *what, const char *ifname) {
  char msg[512];
  const char *name = err == EPERM ? "EPERM" : err == EACCES ? "EACCES" : err == ENODEV ? "ENODEV"
    : err == ENOENT ? "ENOENT" : err == EINVAL ? "EINVAL" : err == ENETDOWN ? "ENETDOWN"
    : err == EMSGSIZE ? "EMSGSIZE" : err == ENOMEM ? "ENOMEM" : err == EBADF ? "EBADF" : "EIO";
  if (ifname && ifname[0]) snprintf(msg, sizeof msg, "%s \"%s\": %s (%s)", what, ifname, strerror(err), name);
  else snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(err), name);
  napi_value code, m, e;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, code, m, &e);
  napi_value no;
  napi_create_int32(env, err, &no);
  napi_set_named_property(env, e, "errno", no);
  napi_set_named_property(env, e, "syscall", m);
  napi_throw(env, e);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* ---------- small N-API helpers ---------- */

static int get_u32_prop(napi_env env, napi_value obj, const char *key, uint32_t dflt, uint32_t *out) {
  bool has = false;
  *out = dflt;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  napi_value v;
  napi_valuetype t;
  napi_get_named_property(env, obj, key, &v);
  napi_typeof(env, v, &t);
  if (t == napi_undefined) return 0;
  if (t != napi_number) return -1;
  return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

static int get_str_prop(napi_env env, napi_value obj, const char *key, char *out, size_t cap) {
  bool has = false;
  out[0] = 0;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  napi_value v;
  napi_valuetype t;
  napi_get_named_property(env, obj, key, &v);
  napi_typeof(env, v, &t);
  if (t == napi_undefined || t == napi_null) return 0;
  if (t != napi_string) return -1;
  size_t n;
  return napi_get_value_string_utf8(env, v, out, cap, &n) == napi_ok ? 0 : -1;
}

static void set_u32(napi_env env, napi_value obj, const char *key, uint32_t v) {
  napi_value x;
  napi_create_uint32(env, v, &x);
  napi_set_named_property(env, obj, key, x);
}

static pkt_t *unwrap(napi_env env, napi_value h) {
  void *p = NULL;
  if (napi_unwrap(env, h, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "not an open packet socket handle");
    return NULL;
  }
  pkt_t *s = p;
  if (s->fd < 0) {
    napi_throw_error(env, "EBADF", "packet socket is closed (EBADF)");
    return NULL;
  }
  return s;
}

/* ---------- interface facts ---------- */

static int if_facts(napi_env env, int fd, const char *ifname, napi_value out) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) return errno;
  set_u32(env, out, "ifindex", (uint32_t)ifr.ifr_ifindex);
  if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) return errno;
  set_u32(env, out, "mtu", (uint32_t)ifr.ifr_mtu);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) return errno;
  set_u32(env, out, "flags", (uint32_t)(uint16_t)ifr.ifr_flags);
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) return errno;
  napi_value ab, mac;
  void *data;
  napi_create_arraybuffer(env, 6, &data, &ab);
  memcpy(data, ifr.ifr_hwaddr.sa_data, 6);
  napi_create_typedarray(env, napi_uint8_array, 6, ab, 0, &mac);
  napi_set_named_property(env, out, "mac", mac);
  set_u32(env, out, "hwtype", ifr.ifr_hwaddr.sa_family);
  /* The primary IPv4 address (0 if none); a UDP socket in the same namespace answers for it. */
  uint32_t ip4 = 0;
  int ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (ufd >= 0) {
    memset(&ifr.ifr_addr, 0, sizeof ifr.ifr_addr);
    ifr.ifr_addr.sa_family = AF_INET;
    if (ioctl(ufd, SIOCGIFADDR, &ifr) == 0) ip4 = ntohl(((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr);
    close(ufd);
  }
  set_u32(env, out, "ipv4", ip4);
  return 0;
}

/* ---------- namespaces ---------- */

/* Enter the network namespace at `path` on this thread; returns the fd of the previous one. */
static int netns_enter(const char *name, int *saved) {
  char path[512];
  *saved = -1;
  if (name[0] == 0) return 0;
  if (strchr(name, '/')) snprintf(path, sizeof path, "%s", name);
  else snprintf(path, sizeof path, "/run/netns/%s", name);
  int cur = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (cur < 0) return errno;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { int e = errno; close(cur); return e; }
  if (setns(fd, CLONE_NEWNET) < 0) { int e = errno; close(fd); close(cur); return e; }
  close(fd);
  *saved = cur;
  return 0;
}

static void netns_leave(int saved) {
  if (saved < 0) return;
  if (setns(saved, CLONE_NEWNET) < 0) {
    /* Cannot happen with a valid fd; staying in the wrong namespace would be worse than dying. */
    abort();
  }
  close(saved);
}

/* ---------- lifetime ---------- */

static void maybe_free(pkt_t *s) {
  if (s->finalized && (!s->poll_init || s->uv_closed)) free(s);
}

static void on_uv_closed(uv_handle_t *h) {
  pkt_t *s = h->data;
  s->uv_closed = 1;
  maybe_free(s);
}

static void do_close(napi_env env, pkt_t *s) {
  if (s->fd < 0) return;
  if (s->poll_init && !s->closing) {
    s->closing = 1;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_uv_closed);
  }
  close(s->fd);
  s->fd = -1;
  if (s->rmap) { munmap(s->rmap, s->rmap_len); s->rmap = NULL; }
  if (env) {
    if (s->cb_ref) { napi_delete_reference(env, s->cb_ref); s->cb_ref = NULL; }
    if (s->actx) { napi_async_destroy(env, s->actx); s->actx = NULL; }
    if (s->polling && s->self_ref) { uint32_t rc; napi_reference_unref(env, s->self_ref, &rc); }
  }
  s->polling = 0;
}

static void finalize(napi_env env, void *data, void *hint) {
  pkt_t *s = data;
  if (s->fd >= 0) {
    if (s->poll_init && !s->closing) { s->closing = 1; uv_poll_stop(&s->poll); uv_close((uv_handle_t *)&s->poll, on_uv_closed); }
    close(s->fd);
    s->fd = -1;
  }
  if (s->rmap) { munmap(s->rmap, s->rmap_len); s->rmap = NULL; }
  if (s->self_ref) { napi_delete_reference(env, s->self_ref); s->self_ref = NULL; }
  s->finalized = 1;
  maybe_free(s);
}

/* ---------- open ---------- */

/* open(ifname, { netns?, slots?, slotSize?, headroom?, scratch?, vnetHdr? }) -> handle */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return throw_type(env, "open(ifname, options) needs an interface name");
  char ifname[IFNAMSIZ + 1];
  size_t n;
  if (napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &n) != napi_ok || n == 0 || n >= IFNAMSIZ)
    return throw_type(env, "interface name must be a string of 1 to 15 characters");
  uint32_t slots = 64, slot_size = 2048 + 256, headroom = 128, scratch = 65536, vnet = 1, ring = 0;
  char ns[256] = "";
  if (argc > 1) {
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t == napi_object) {
      if (get_u32_prop(env, argv[1], "slots", slots, &slots) || get_u32_prop(env, argv[1], "slotSize", slot_size, &slot_size) ||
          get_u32_prop(env, argv[1], "headroom", headroom, &headroom) || get_u32_prop(env, argv[1], "scratch", scratch, &scratch) ||
          get_u32_prop(env, argv[1], "vnetHdr", vnet, &vnet) || get_u32_prop(env, argv[1], "ring", ring, &ring) ||
          get_str_prop(env, argv[1], "netns", ns, sizeof ns))
        return throw_type(env, "open options: slots, slotSize, headroom, scratch, vnetHdr, ring are numbers, netns a string");
    }
  }
  if (slots < 1 || slots > 4096 || slot_size < 256 || slot_size > 262144 || headroom >= slot_size - 128 || scratch > (64u << 20))
    return throw_type(env, "open options out of range (slots 1..4096, slotSize 256..262144, headroom < slotSize - 128)");

  int saved;
  int err = netns_enter(ns, &saved);
  if (err) return throw_errno(env, err, "Cannot enter network namespace", ns);
  /* Protocol 0: receive nothing until the filter is in place and the socket is bound. */
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) { err = errno; netns_leave(saved); return throw_errno(env, err, "Cannot open AF_PACKET socket on", ifname); }

  napi_value h;
  napi_create_object(env, &h);
  err = if_facts(env, fd, ifname, h);
  if (err) { close(fd); netns_leave(saved); return throw_errno(env, err, "No such interface", ifname); }
  napi_value v;
  uint32_t ifindex;
  napi_get_named_property(env, h, "ifindex", &v);
  napi_get_value_uint32(env, v, &ifindex);

  int one = 1;
  struct sock_filter drop_all[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
  struct sock_fprog fp = { .len = 1, .filter = drop_all };
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp) < 0 ||
      setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0) {
    err = errno; close(fd); netns_leave(saved); return throw_errno(env, err, "Cannot configure AF_PACKET socket on", ifname);
  }
  int vnet_ok = 0;
  if (vnet && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0) vnet_ok = 1;
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  /* The TPACKET_V3 ring: 16 blocks of 1 MiB, each handed over when full or after 1 ms. */
  uint8_t *rmap = NULL;
  size_t rmap_len = 0;
  const uint32_t rblock_size = 1u << 20, rblock_nr = 16;
  if (ring) {
    int v3 = TPACKET_V3;
    struct tpacket_req3 req;
    memset(&req, 0, sizeof req);
    req.tp_block_size = rblock_size;
    req.tp_block_nr = rblock_nr;
    req.tp_frame_size = 2048;
    req.tp_frame_nr = rblock_size / 2048 * rblock_nr;
    req.tp_retire_blk_tov = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v3, sizeof v3) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) {
      err = errno; close(fd); netns_leave(saved); return throw_errno(env, err, "Cannot set up the TPACKET_V3 ring on", ifname);
    }
    rmap_len = (size_t)rblock_size * rblock_nr;
    rmap = mmap(NULL, rmap_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (rmap == MAP_FAILED) {
      err = errno; close(fd); netns_leave(saved); return throw_errno(env, err, "Cannot map the TPACKET_V3 ring of", ifname);
    }
  }
  int bufsz = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof bufsz);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof bufsz);

  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = (int)ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    err = errno; if (rmap) munmap(rmap, rmap_len); close(fd); netns_leave(saved); return throw_errno(env, err, "Cannot bind AF_PACKET socket to", ifname);
  }
  netns_leave(saved);

  pkt_t *s = calloc(1, sizeof *s);
  if (!s) { if (rmap) munmap(rmap, rmap_len); close(fd); return throw_errno(env, ENOMEM, "Out of memory opening", ifname); }
  s->ring = ring ? 1 : 0;
  s->rmap = rmap;
  s->rmap_len = rmap_len;
  s->rblock_size = rblock_size;
  s->rblock_nr = rblock_nr;
  s->fd = fd;
  s->ifindex = (int)ifindex;
  s->vnet = vnet_ok;
  s->slots = slots;
  s->slot_size = slot_size;
  s->headroom = headroom;
  s->scratch = scratch;
  s->batch = slots < MAX_BATCH ? slots : MAX_BATCH;
  s->env = env;
  s->tx_cap = MAX_BATCH;

  napi_value ab, rxm_ab, txm_ab, rxm, txm;
  void *data;
  s->buf_len = (size_t)slots * slot_size + scratch;
  if (napi_create_arraybuffer(env, s->buf_len, &data, &ab) != napi_ok) { close(fd); free(s); return throw_errno(env, ENOMEM, "Out of memory opening", ifname); }
  s->buf = data;
  napi_create_arraybuffer(env, (size_t)MAX_BATCH * META_STRIDE * 4, &data, &rxm_ab);
  s->rx_meta = data;
  napi_create_arraybuffer(env, (size_t)MAX_BATCH * META_STRIDE * 4, &data, &txm_ab);
  s->tx_meta = data;
  napi_create_typedarray(env, napi_int32_array, (size_t)MAX_BATCH * META_STRIDE, rxm_ab, 0, &rxm);
  napi_create_typedarray(env, napi_int32_array, (size_t)MAX_BATCH * META_STRIDE, txm_ab, 0, &txm);
  napi_set_named_property(env, h, "buffer", ab);
  napi_set_named_property(env, h, "rxMeta", rxm);
  napi_set_named_property(env, h, "txMeta", txm);
  set_u32(env, h, "slots", slots);
  set_u32(env, h, "slotSize", slot_size);
  set_u32(env, h, "headroom", headroom);
  set_u32(env, h, "scratchOffset", slots * slot_size);
  set_u32(env, h, "scratch", scratch);
  set_u32(env, h, "batch", s->batch);
  set_u32(env, h, "txBatch", s->tx_cap);
  set_u32(env, h, "vnetHdr", (uint32_t)vnet_ok);
  set_u32(env, h, "ring", (uint32_t)s->ring);
  napi_value name;
  napi_create_string_utf8(env, ifname, NAPI_AUTO_LENGTH, &name);
  napi_set_named_property(env, h, "ifname", name);

  for (uint32_t i = 0; i < MAX_BATCH; i++) {
    s->iov[i][0].iov_base = &s->vh[i];
    s->iov[i][0].iov_len = sizeof(struct virtio_net_hdr);
  }
  if (napi_wrap(env, h, s, finalize, NULL, NULL) != napi_ok) { close(fd); free(s); return throw_type(env, "cannot wrap handle"); }
  napi_create_reference(env, h, 0, &s->self_ref);
  return h;
}

/* ---------- receive ---------- */

/* Walks the TPACKET_V3 ring: copies up to `batch` frames into the slots (so JavaScript sees the
 * same layout as with recvmmsg), hands finished blocks back to the kernel. */
static int ring_recv(pkt_t *s) {
  const uint32_t vlen = s->vnet ? sizeof(struct virtio_net_hdr) : 0;
  const uint32_t room = s->slot_size - s->headroom;
  int n = 0;
  while ((uint32_t)n < s->batch) {
    struct tpacket_block_desc *bd = (struct tpacket_block_desc *)(s->rmap + (size_t)s->rblock_cur * s->rblock_size);
    if (s->rpkt == NULL) {
      if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) break;
      s->rpkt_left = bd->hdr.bh1.num_pkts;
      s->rpkt = (uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
    }
    while (s->rpkt_left > 0 && (uint32_t)n < s->batch) {
      struct tpacket3_hdr *ph = (struct tpacket3_hdr *)s->rpkt;
      const struct sockaddr_ll *sll = (const struct sockaddr_ll *)(s->rpkt + TPACKET_ALIGN(sizeof(struct tpacket3_hdr)));
      uint8_t *mac = s->rpkt + ph->tp_mac;
      uint32_t len = ph->tp_snaplen < room ? ph->tp_snaplen : room;
      int32_t flags = 0, cstart = 0, coff = 0, gso = 0;
      if (len < ph->tp_len) flags |= F_TRUNC;
      if (ph->tp_status & TP_STATUS_CSUMNOTREADY) flags |= F_NEEDS_CSUM;
#ifdef TP_STATUS_CSUM_VALID
      if (ph->tp_status & TP_STATUS_CSUM_VALID) flags |= F_CSUM_VALID;
#endif
      if (vlen) {
        struct virtio_net_hdr vh;
        memcpy(&vh, mac - vlen, sizeof vh);
        if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) { flags |= F_NEEDS_CSUM; cstart = vh.csum_start; coff = vh.csum_offset; }
        if (vh.flags & VIRTIO_NET_HDR_F_DATA_VALID) flags |= F_CSUM_VALID;
        if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) { flags |= F_GSO; gso = ((int32_t)vh.gso_type << 16) | vh.gso_size; }
      }
      int32_t vlan = 0;
      if (ph->tp_status & TP_STATUS_VLAN_VALID) { flags |= F_VLAN; vlan = ph->hv1.tp_vlan_tci; }
      size_t off = (size_t)n * s->slot_size + s->headroom;
      memcpy(s->buf + off, mac, len);
      int32_t *o = s->rx_meta + n * META_STRIDE;
      o[0] = (int32_t)off;
      o[1] = (int32_t)len;
      o[2] = flags;
      o[3] = vlan;
      o[4] = cstart;
      o[5] = coff;
      o[6] = gso;
      o[7] = sll->sll_pkttype;
      n++;
      s->rpkt_left--;
      s->rpkt += ph->tp_next_offset;
    }
    if (s->rpkt_left == 0) {
      __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      s->rpkt = NULL;
      s->rblock_cur = (s->rblock_cur + 1) % s->rblock_nr;
    }
  }
  return n;
}

/* recv(h) -> number of frames described in rxMeta (0 when nothing is waiting). */
static napi_value js_recv(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  pkt_t *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  if (s->ring) {
    napi_value rr;
    napi_create_int32(env, ring_recv(s), &rr);
    return rr;
  }
  const uint32_t vlen = s->vnet ? sizeof(struct virtio_net_hdr) : 0;
  const uint32_t room = s->slot_size - s->headroom;
  for (uint32_t i = 0; i < s->batch; i++) {
    struct msghdr *m = &s->msgs[i].msg_hdr;
    uint32_t k = 0;
    if (vlen) { s->iov[i][0].iov_base = &s->vh[i]; s->iov[i][0].iov_len = vlen; k = 1; }
    s->iov[i][k].iov_base = s->buf + (size_t)i * s->slot_size + s->headroom;
    s->iov[i][k].iov_len = room;
    m->msg_iov = s->iov[i];
    m->msg_iovlen = k + 1;
    m->msg_name = &s->names[i];
    m->msg_namelen = sizeof s->names[i];
    m->msg_control = s->ctrl[i].buf;
    m->msg_controllen = sizeof s->ctrl[i].buf;
    m->msg_flags = 0;
  }
  int n = recvmmsg(s->fd, s->msgs, s->batch, MSG_DONTWAIT, NULL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) n = 0;
    else { s->last_errno = errno; n = 0; }
  }
  for (int i = 0; i < n; i++) {
    struct msghdr *m = &s->msgs[i].msg_hdr;
    int32_t *o = s->rx_meta + i * META_STRIDE;
    uint32_t got = s->msgs[i].msg_len;
    int32_t flags = 0, vlan = 0, cstart = 0, coff = 0, gso = 0;
    uint32_t len = got > vlen ? got - vlen : 0;
    if (m->msg_flags & MSG_TRUNC) flags |= F_TRUNC;
    if (vlen) {
      struct virtio_net_hdr *vh = &s->vh[i];
      if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) { flags |= F_NEEDS_CSUM; cstart = vh->csum_start; coff = vh->csum_offset; }
      if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID) flags |= F_CSUM_VALID;
      if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE) { flags |= F_GSO; gso = ((int32_t)vh->gso_type << 16) | vh->gso_size; }
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
      if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
      struct tpacket_auxdata aux;
      memcpy(&aux, CMSG_DATA(c), sizeof aux);
      if (aux.tp_status & TP_STATUS_CSUMNOTREADY) flags |= F_NEEDS_CSUM;
#ifdef TP_STATUS_CSUM_VALID
      if (aux.tp_status & TP_STATUS_CSUM_VALID) flags |= F_CSUM_VALID;
#endif
      if (aux.tp_status & TP_STATUS_VLAN_VALID) { flags |= F_VLAN; vlan = aux.tp_vlan_tci; }
      if (aux.tp_len > len) flags |= F_TRUNC;
    }
    o[0] = (int32_t)((size_t)i * s->slot_size + s->headroom);
    o[1] = (int32_t)len;
    o[2] = flags;
    o[3] = vlan;
    o[4] = cstart;
    o[5] = coff;
    o[6] = gso;
    o[7] = s->names[i].sll_pkttype;
  }
  napi_value r;
  napi_create_int32(env, n, &r);
  return r;
}

/* ---------- send ---------- */

/* send(h, n) -> frames handed to the kernel; txMeta[0..n) describe them. */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  pkt_t *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  uint32_t n = 0;
  if (argc < 2 || napi_get_value_uint32(env, argv[1], &n) != napi_ok) return throw_type(env, "send(handle, count)");
  if (n > s->tx_cap) n = s->tx_cap;
  const uint32_t vlen = s->vnet ? sizeof(struct virtio_net_hdr) : 0;
  uint32_t valid = 0;
  /* Compact the valid entries to the front of msgs: a bad entry is skipped, not sent. */
  for (uint32_t i = 0; i < n; i++) {
    const int32_t *t = s->tx_meta + i * META_STRIDE;
    int64_t off = t[0], len = t[1];
    if (off < 0 || len < 14 || (uint64_t)(off + len) > s->buf_len) continue;
    struct msghdr *m = &s->msgs[valid].msg_hdr;
    uint32_t k = 0;
    if (vlen) {
      struct virtio_net_hdr *vh = &s->vh[valid];
      memset(vh, 0, sizeof *vh);
      if (t[2] & F_NEEDS_CSUM) {
        vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        vh->csum_start = (uint16_t)t[4];
        vh->csum_offset = (uint16_t)t[5];
      }
      if (t[2] & F_GSO) {
        vh->gso_type = (uint8_t)((uint32_t)t[6] >> 16);
        vh->gso_size = (uint16_t)(t[6] & 0xffff);
        vh->hdr_len = 0;
      }
      s->iov[valid][0].iov_base = vh;
      s->iov[valid][0].iov_len = vlen;
      k = 1;
    }
    s->iov[valid][k].iov_base = s->buf + off;
    s->iov[valid][k].iov_len = (size_t)len;
    m->msg_iov = s->iov[valid];
    m->msg_iovlen = k + 1;
    m->msg_name = NULL;
    m->msg_namelen = 0;
    m->msg_control = NULL;
    m->msg_controllen = 0;
    m->msg_flags = 0;
    valid++;
  }
  uint32_t done = 0, sent = 0;
  while (done < valid) {
    int r = sendmmsg(s->fd, s->msgs + done, valid - done, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      s->last_errno = errno;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) break;
      done++; /* this frame is refused (EMSGSIZE, EINVAL): skip it, keep the rest */
      continue;
    }
    done += (uint32_t)r;
    sent += (uint32_t)r;
  }
  napi_value res;
  napi_create_uint32(env, sent, &res);
  return res;
}

/* ---------- filter ---------- */

/* setFilter(h, Uint8Array of struct sock_filter, 8 bytes each) */
static napi_value js_set_filter(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  pkt_t *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  bool is_ta = false;
  if (argc < 2 || napi_is_typedarray(env, argv[1], &is_ta) != napi_ok || !is_ta) return throw_type(env, "setFilter(handle, Uint8Array)");
  napi_typedarray_type tt;
  size_t len, boff;
  void *data;
  napi_value ab;
  napi_get_typedarray_info(env, argv[1], &tt, &len, &data, &ab, &boff);
  if (tt != napi_uint8_array || len == 0 || len % 8 != 0 || len / 8 > BPF_MAXINSNS) return throw_type(env, "filter must be 1..4096 instructions of 8 bytes");
  struct sock_fprog fp = { .len = (unsigned short)(len / 8), .filter = data };
  if (setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp) < 0) return throw_errno(env, errno, "Cannot attach BPF filter to the packet socket", NULL);
  return NULL;
}

/* ---------- readiness ---------- */

static void on_poll(uv_poll_t *p, int status, int events) {
  pkt_t *s = p->data;
  if (!s->polling || !s->cb_ref) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, arg;
  napi_get_reference_value(env, s->cb_ref, &cb);
  napi_get_global(env, &recv);
  napi_create_int32(env, status, &arg);
  napi_status st = napi_make_callback(env, s->actx, recv, cb, 1, &arg, NULL);
  if (st == napi_pending_exception) {
    napi_value e;
    napi_get_and_clear_last_exception(env, &e);
    napi_fatal_exception(env, e);
  }
  napi_close_handle_scope(env, scope);
}

/* poll(h, cb): cb(status) runs on the event loop each time the socket turns readable. */
static napi_value js_poll(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  pkt_t *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  napi_valuetype t;
  if (argc < 2 || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) return throw_type(env, "poll(handle, callback)");
  if (s->polling) return throw_type(env, "already polling");
  if (!s->poll_init) {
    uv_loop_t *loop;
    napi_get_uv_event_loop(env, &loop);
    if (uv_poll_init(loop, &s->poll, s->fd) != 0) return throw_errno(env, EINVAL, "Cannot poll the packet socket", NULL);
    s->poll.data = s;
    s->poll_init = 1;
  }
  napi_create_reference(env, argv[1], 1, &s->cb_ref);
  napi_value name;
  napi_create_string_utf8(env, "tslvs:packet", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &s->actx);
  uint32_t rc;
  napi_reference_ref(env, s->self_ref, &rc);
  s->polling = 1;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
  return NULL;
}

static napi_value js_poll_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  pkt_t *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  if (s->polling) {
    uv_poll_stop(&s->poll);
    s->polling = 0;
    napi_delete_reference(env, s->cb_ref);
    s->cb_ref = NULL;
    napi_async_destroy(env, s->actx);
    s->actx = NULL;
    uint32_t rc;
    napi_reference_unref(env, s->self_ref, &rc);
  }
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  if (argc < 1 || napi_unwrap(env, argv[0], &p) != napi_ok || !p) return NULL;
  do_close(env, p);
  return NULL;
}

/* ifInfo(h) -> { ifindex, mtu, flags, mac, ipv4 } read again (the MTU or address may change). */
static napi_value js_if_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  pkt_t *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  /* SIOCGIFNAME on the socket answers in the socket's namespace, whatever this thread's is. */
  char ifname[IFNAMSIZ];
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_ifindex = s->ifindex;
  if (ioctl(s->fd, SIOCGIFNAME, &ifr) < 0) return throw_errno(env, errno, "The packet socket's interface is gone", NULL);
  memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
  napi_value out;
  napi_create_object(env, &out);
  int err = if_facts(env, s->fd, ifname, out);
  if (err) return throw_errno(env, err, "Cannot read interface", ifname);
  return out;
}

static napi_value js_last_error(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  pkt_t *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  napi_value r;
  napi_create_int32(env, s->last_errno, &r);
  s->last_errno = 0;
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    { "open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL },
    { "recv", NULL, js_recv, NULL, NULL, NULL, napi_default, NULL },
    { "send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL },
    { "setFilter", NULL, js_set_filter, NULL, NULL, NULL, napi_default, NULL },
    { "poll", NULL, js_poll, NULL, NULL, NULL, napi_default, NULL },
    { "pollStop", NULL, js_poll_stop, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL },
    { "ifInfo", NULL, js_if_info, NULL, NULL, NULL, napi_default, NULL },
    { "lastError", NULL, js_last_error, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  napi_value v;
  napi_create_uint32(env, META_STRIDE, &v);
  napi_set_named_property(env, exports, "META_STRIDE", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
