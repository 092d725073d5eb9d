// linkem: userspace WAN link emulator joining two network namespaces through TUN devices (rate, queue, delay, jitter, loss, duplication, reordering, MTU).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: linkem --ns-a NAME --ns-b NAME [options]\n"
    "Creates a TUN device in each network namespace (a name under /var/run/netns or a path) and forwards IP\n"
    "packets between them, impairing each direction independently. A->B is 'ab', B->A is 'ba'.\n"
    "\n"
    "set-up:\n"
    "  --ns-a NAME --ns-b NAME   namespaces (required)\n"
    "  --dev-a NAME --dev-b NAME TUN device names (default lk0 in both)\n"
    "  --dev-mtu N               MTU given to both TUN devices (default 1500)\n"
    "  --txqueuelen N            TUN transmit queue length (default 1000)\n"
    "  --pool N                  packet slots per direction: bounds memory and packets held (default 16384)\n"
    "  --seed N                  RNG seed (default 1)\n"
    "  --stats-ms N              print a JSON stats line every N ms (default 0: only on SIGUSR1 and at exit)\n"
    "  --watch-pid PID           exit cleanly (as on SIGTERM) once process PID is gone\n"
    "  --spin-us N               busy-wait the last N us before a release instead of sleeping (default 0)\n"
    "  --rt-prio N               run the forwarding threads SCHED_FIFO at priority N (1-99; default 0: off),\n"
    "                            so busy neighbours on the CPUs do not delay releases\n"
    "\n"
    "impairments: --X sets both directions, --ab-X / --ba-X one direction (those win over --X):\n"
    "  rate BITS           bottleneck rate: 100mbit, 1g, 5e7 (default 0: unlimited, no queue)\n"
    "  queue-bytes BYTES   drop-tail limit in bytes: 64k, 1.25m (default: one BDP = rate * (ab delay + ba delay))\n"
    "  queue-pkts N        drop-tail limit in packets (default 0: no packet limit)\n"
    "  overhead BYTES      per-packet link overhead added to the serialized size (default 0)\n"
    "  delay TIME          one-way propagation delay: 50ms, 200us, 1s (default 0)\n"
    "  jitter TIME         jitter amplitude: uniform +-TIME, or the normal standard deviation\n"
    "  jitter-dist uniform|normal   (default uniform)\n"
    "  jitter-reorder 0|1  whether jitter may reorder packets (default 0: releases stay in order)\n"
    "  loss P              Bernoulli loss: 0.01 or 1% (default 0)\n"
    "  ge p,r[,lossBad[,lossGood]]  Gilbert-Elliott: P(good->bad), P(bad->good) per packet,\n"
    "                      loss in bad (default 1) and good (default 0) states\n"
    "  dup P               duplication probability\n"
    "  reorder P           probability that a packet is held back by reorder-gap so later ones overtake it\n"
    "  reorder-gap TIME    (default 1ms)\n"
    "  mtu N               path MTU: larger packets are dropped (default 0: none)\n"
    "  mtu-mode drop|count count-only leaves oversize packets through\n"
    "\n"
    "Order per packet: MTU check, drop-tail queue, serialization at rate, then on the wire: loss, duplication,\n"
    "delay + jitter + reordering. Lost packets have used the bottleneck. Signals: SIGUSR1 prints a snapshot,\n"
    "SIGINT/SIGTERM print the final counters and exit 0.\n";

typedef struct {
  double rate_bps;
  int64_t queue_bytes;
  int64_t queue_pkts;
  int64_t overhead;
  int64_t delay_ns;
  int64_t jitter_ns;
  int jitter_normal;
  int jitter_reorder;
  double loss;
  int ge_on;
  double ge_p, ge_r, ge_loss_bad, ge_loss_good;
  double dup;
  double reorder;
  int64_t reorder_gap_ns;
  int64_t mtu;
  int mtu_count_only;
} dir_cfg;

// Release lateness histogram: bucket i counts lateness below 2^i microseconds.
#define LATE_BUCKETS 24

typedef struct {
  _Atomic uint64_t in_pkts, in_bytes, out_pkts, out_bytes;
  _Atomic uint64_t drop_queue, drop_loss, drop_mtu, drop_pool, oversize;
  _Atomic uint64_t duplicated, reordered, write_err;
  _Atomic uint64_t queue_hw_bytes, queue_hw_pkts, held, held_hw;
  _Atomic uint64_t late_sum_ns, late_max_ns;
  _Atomic uint64_t late_hist[LATE_BUCKETS];
} counters;

typedef struct {
  int64_t t;
  uint64_t id;
  uint32_t slot;
} held_pkt;

typedef struct {
  const char *name;
  dir_cfg cfg;
  int in_fd, out_fd;
  uint64_t rng[4];
  int have_spare_normal;
  double spare_normal;
  int ge_bad;

  uint8_t *bufs;
  uint32_t *lens;
  uint64_t *ids;
  uint32_t *free_slots;
  uint32_t free_count;

  held_pkt *heap;
  uint32_t heap_len;

  int64_t *departs;
  uint32_t ring_head, ring_count;
  int64_t link_free_at;
  int64_t last_release;
  uint64_t next_id, max_id_out;

  counters c;
  pthread_t thread;
} direction;

static uint32_t pool_size = 16384;
static size_t slot_size = 1536;
static int64_t spin_ns;
static int rt_prio;
static atomic_int stopping;
static int stop_efd = -1;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("linkem: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
#define ADD(x, n) STORE(x, LOAD(x) + (uint64_t)(n))
#define RAISE(x, v)                        \
  do {                                     \
    uint64_t v_ = (uint64_t)(v);           \
    if (v_ > LOAD(x)) STORE(x, v_);        \
  } while (0)

// ---------- RNG: xoshiro256** seeded through splitmix64 ----------

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[4]) {
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

static double rng_unit(direction *d) { return (double)(rng_next(d->rng) >> 11) * 0x1.0p-53; }

static int chance(direction *d, double p) { return p > 0 && rng_unit(d) < p; }

static double rng_normal(direction *d) {
  if (d->have_spare_normal) {
    d->have_spare_normal = 0;
    return d->spare_normal;
  }
  double u1 = rng_unit(d), u2 = rng_unit(d);
  if (u1 < 1e-300) u1 = 1e-300;
  double r = sqrt(-2.0 * log(u1));
  d->spare_normal = r * sin(2 * M_PI * u2);
  d->have_spare_normal = 1;
  return r * cos(2 * M_PI * u2);
}

// ---------- option values ----------

static double parse_scaled(const char *opt, const char *v, const char *const *units, const double *scales, int nunits) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || end == v || x < 0 || !isfinite(x)) die("%s: bad number '%s'", opt, v);
  if (!*end) return x * scales[0];
  for (int i = 0; i < nunits; i++)
    if (!strcasecmp(end, units[i])) return x * scales[i];
  die("%s: unknown unit in '%s'", opt, v);
  return 0;
}

static double parse_rate(const char *opt, const char *v) {
  static const char *const u[] = {"", "bit", "bps", "k", "kbit", "m", "mbit", "g", "gbit"};
  static const double s[] = {1, 1, 1, 1e3, 1e3, 1e6, 1e6, 1e9, 1e9};
  return parse_scaled(opt, v, u, s, 9);
}

static int64_t parse_time(const char *opt, const char *v) {
  static const char *const u[] = {"ms", "ns", "us", "ms", "s"};
  static const double s[] = {1e6, 1, 1e3, 1e6, 1e9};
  return llround(parse_scaled(opt, v, u, s, 5));
}

static int64_t parse_size(const char *opt, const char *v) {
  static const char *const u[] = {"", "b", "k", "kb", "m", "mb"};
  static const double s[] = {1, 1, 1e3, 1e3, 1e6, 1e6};
  return llround(parse_scaled(opt, v, u, s, 6));
}

static double parse_prob(const char *opt, const char *v) {
  static const char *const u[] = {"", "%"};
  static const double s[] = {1, 0.01};
  double p = parse_scaled(opt, v, u, s, 2);
  if (p > 1) die("%s: probability above 1: '%s'", opt, v);
  return p;
}

static int parse_choice(const char *opt, const char *v, const char *no, const char *yes) {
  if (!strcmp(v, no)) return 0;
  if (!strcmp(v, yes)) return 1;
  die("%s: expected %s or %s, got '%s'", opt, no, yes, v);
  return 0;
}

static void parse_ge(dir_cfg *c, const char *opt, const char *v) {
  double x[4] = {0, 0, 1, 0};
  char buf[128];
  snprintf(buf, sizeof buf, "%s", v);
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (n == 4) die("%s: at most 4 values", opt);
    x[n++] = parse_prob(opt, tok);
  }
  if (n < 2) die("%s: needs p,r[,lossBad[,lossGood]]", opt);
  c->ge_on = 1;
  c->ge_p = x[0];
  c->ge_r = x[1];
  c->ge_loss_bad = x[2];
  c->ge_loss_good = x[3];
}

// Returns 1 if the impairment option was known.
static int set_impairment(dir_cfg *c, const char *key, const char *opt, const char *v) {
  if (!strcmp(key, "rate")) c->rate_bps = parse_rate(opt, v);
  else if (!strcmp(key, "queue-bytes")) c->queue_bytes = parse_size(opt, v);
  else if (!strcmp(key, "queue-pkts")) c->queue_pkts = parse_size(opt, v);
  else if (!strcmp(key, "overhead")) c->overhead = parse_size(opt, v);
  else if (!strcmp(key, "delay")) c->delay_ns = parse_time(opt, v);
  else if (!strcmp(key, "jitter")) c->jitter_ns = parse_time(opt, v);
  else if (!strcmp(key, "jitter-dist")) c->jitter_normal = parse_choice(opt, v, "uniform", "normal");
  else if (!strcmp(key, "jitter-reorder")) c->jitter_reorder = parse_choice(opt, v, "0", "1");
  else if (!strcmp(key, "loss")) c->loss = parse_prob(opt, v);
  else if (!strcmp(key, "ge")) parse_ge(c, opt, v);
  else if (!strcmp(key, "dup")) c->dup = parse_prob(opt, v);
  else if (!strcmp(key, "reorder")) c->reorder = parse_prob(opt, v);
  else if (!strcmp(key, "reorder-gap")) c->reorder_gap_ns = parse_time(opt, v);
  else if (!strcmp(key, "mtu")) c->mtu = parse_size(opt, v);
  else if (!strcmp(key, "mtu-mode")) c->mtu_count_only = parse_choice(opt, v, "drop", "count");
  else return 0;
  return 1;
}

// ---------- TUN set-up ----------

static int open_netns(const char *ns) {
  char path[512];
  if (strchr(ns, '/')) snprintf(path, sizeof path, "%s", ns);
  else snprintf(path, sizeof path, "/var/run/netns/%s", ns);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open network namespace %s: %s", path, strerror(errno));
  return fd;
}

static void ifreq_ioctl(int sock, unsigned long req, struct ifreq *ifr, const char *what) {
  if (ioctl(sock, req, ifr) < 0) die("%s on %s: %s", what, ifr->ifr_name, strerror(errno));
}

static int open_tun_in(const char *ns, const char *dev, int mtu, int txqlen) {
  int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) die("cannot open /proc/self/ns/net: %s", strerror(errno));
  int target = open_netns(ns);
  if (setns(target, CLONE_NEWNET) < 0) die("setns %s: %s", ns, strerror(errno));
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) die("cannot open /dev/net/tun: %s", strerror(errno));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
  ifreq_ioctl(fd, TUNSETIFF, &ifr, "TUNSETIFF");
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) die("socket: %s", strerror(errno));
  ifr.ifr_mtu = mtu;
  ifreq_ioctl(sock, SIOCSIFMTU, &ifr, "SIOCSIFMTU");
  ifr.ifr_qlen = txqlen;
  ifreq_ioctl(sock, SIOCSIFTXQLEN, &ifr, "SIOCSIFTXQLEN");
  close(sock);
  if (setns(home, CLONE_NEWNET) < 0) die("setns back: %s", strerror(errno));
  close(home);
  close(target);
  return fd;
}

// ---------- per-direction state ----------

static void direction_init(direction *d, const char *name, int in_fd, int out_fd, uint64_t seed) {
  d->name = name;
  d->in_fd = in_fd;
  d->out_fd = out_fd;
  uint64_t s = seed;
  for (int i = 0; i < 4; i++) d->rng[i] = splitmix64(&s);
  d->bufs = malloc((size_t)pool_size * slot_size);
  d->lens = calloc(pool_size, sizeof *d->lens);
  d->ids = calloc(pool_size, sizeof *d->ids);
  d->free_slots = calloc(pool_size, sizeof *d->free_slots);
  d->heap = calloc(pool_size, sizeof *d->heap);
  d->departs = calloc(pool_size, sizeof *d->departs);
  if (!d->bufs || !d->lens || !d->ids || !d->free_slots || !d->heap || !d->departs) die("out of memory");
  for (uint32_t i = 0; i < pool_size; i++) d->free_slots[i] = pool_size - 1 - i;
  d->free_count = pool_size;
}

static uint8_t *slot_buf(direction *d, uint32_t slot) { return d->bufs + (size_t)slot * slot_size; }

static void slot_free(direction *d, uint32_t slot) { d->free_slots[d->free_count++] = slot; }

static int held_before(const held_pkt *a, const held_pkt *b) { return a->t < b->t || (a->t == b->t && a->id < b->id); }

static void heap_push(direction *d, held_pkt p) {
  uint32_t i = d->heap_len++;
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!held_before(&p, &d->heap[parent])) break;
    d->heap[i] = d->heap[parent];
    i = parent;
  }
  d->heap[i] = p;
  STORE(d->c.held, d->heap_len);
  RAISE(d->c.held_hw, d->heap_len);
}

static held_pkt heap_pop(direction *d) {
  held_pkt top = d->heap[0];
  held_pkt last = d->heap[--d->heap_len];
  uint32_t i = 0, n = d->heap_len;
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, m = i;
    const held_pkt *best = &last;
    if (l < n && held_before(&d->heap[l], best)) m = l, best = &d->heap[l];
    if (r < n && held_before(&d->heap[r], best)) m = r;
    if (m == i) break;
    d->heap[i] = d->heap[m];
    i = m;
  }
  if (n) d->heap[i] = last;
  STORE(d->c.held, d->heap_len);
  return top;
}

static void queue_drain(direction *d, int64_t now) {
  while (d->ring_count && d->departs[d->ring_head] <= now) {
    d->ring_head = (d->ring_head + 1) % pool_size;
    d->ring_count--;
  }
}

// Serializes the packet through the bottleneck; returns its departure time, or -1 when the queue is full.
static int64_t bottleneck(direction *d, int64_t now, uint32_t len) {
  const dir_cfg *c = &d->cfg;
  if (c->rate_bps <= 0) return now;
  queue_drain(d, now);
  int64_t backlog_ns = d->link_free_at > now ? d->link_free_at - now : 0;
  double backlog_bytes = (double)backlog_ns * c->rate_bps / 8e9;
  if ((c->queue_bytes > 0 && backlog_bytes + len > (double)c->queue_bytes) ||
      (c->queue_pkts > 0 && d->ring_count >= (uint64_t)c->queue_pkts) || d->ring_count == pool_size)
    return -1;
  int64_t start = d->link_free_at > now ? d->link_free_at : now;
  d->link_free_at = start + llround((double)(len + c->overhead) * 8e9 / c->rate_bps);
  d->departs[(d->ring_head + d->ring_count) % pool_size] = d->link_free_at;
  d->ring_count++;
  RAISE(d->c.queue_hw_bytes, llround(backlog_bytes) + len);
  RAISE(d->c.queue_hw_pkts, d->ring_count);
  return d->link_free_at;
}

static int wire_loss(direction *d) {
  const dir_cfg *c = &d->cfg;
  int lost = chance(d, c->loss);
  if (c->ge_on) {
    if (chance(d, d->ge_bad ? c->ge_loss_bad : c->ge_loss_good)) lost = 1;
    d->ge_bad = d->ge_bad ? !chance(d, c->ge_r) : chance(d, c->ge_p);
  }
  return lost;
}

static int64_t release_time(direction *d, int64_t depart) {
  const dir_cfg *c = &d->cfg;
  int64_t t = depart + c->delay_ns;
  if (c->jitter_ns > 0) {
    double j = c->jitter_normal ? rng_normal(d) * (double)c->jitter_ns
                                : (rng_unit(d) * 2 - 1) * (double)c->jitter_ns;
    t += llround(j);
    if (t < depart) t = depart;
  }
  if (chance(d, c->reorder)) return t + c->reorder_gap_ns;
  if (!c->jitter_reorder && t < d->last_release) t = d->last_release;
  d->last_release = t;
  return t;
}

static void ingress(direction *d, uint32_t slot, uint32_t len, int64_t now) {
  const dir_cfg *c = &d->cfg;
  ADD(d->c.in_pkts, 1);
  ADD(d->c.in_bytes, len);
  uint64_t id = d->next_id++;
  if (c->mtu > 0 && len > c->mtu) {
    ADD(d->c.oversize, 1);
    if (!c->mtu_count_only) {
      ADD(d->c.drop_mtu, 1);
      slot_free(d, slot);
      return;
    }
  }
  int64_t depart = bottleneck(d, now, len);
  if (depart < 0) {
    ADD(d->c.drop_queue, 1);
    slot_free(d, slot);
    return;
  }
  if (wire_loss(d)) {
    ADD(d->c.drop_loss, 1);
    slot_free(d, slot);
    return;
  }
  int64_t t = release_time(d, depart);
  d->lens[slot] = len;
  d->ids[slot] = id;
  heap_push(d, (held_pkt){t, id, slot});
  if (chance(d, c->dup) && d->free_count) {
    uint32_t copy = d->free_slots[--d->free_count];
    memcpy(slot_buf(d, copy), slot_buf(d, slot), len);
    d->lens[copy] = len;
    d->ids[copy] = id;
    heap_push(d, (held_pkt){t, id, copy});
    ADD(d->c.duplicated, 1);
  }
}

static void release_due(direction *d, int64_t now) {
  while (d->heap_len && d->heap[0].t <= now) {
    held_pkt p = heap_pop(d);
    uint32_t len = d->lens[p.slot];
    if (write(d->out_fd, slot_buf(d, p.slot), len) == (ssize_t)len) {
      ADD(d->c.out_pkts, 1);
      ADD(d->c.out_bytes, len);
    } else {
      ADD(d->c.write_err, 1);
    }
    if (p.id < d->max_id_out) ADD(d->c.reordered, 1);
    else d->max_id_out = p.id;
    int64_t late = now - p.t;
    ADD(d->c.late_sum_ns, late);
    RAISE(d->c.late_max_ns, late);
    int b = 0;
    while (b < LATE_BUCKETS - 1 && late >= (1000LL << b)) b++;
    ADD(d->c.late_hist[b], 1);
    slot_free(d, p.slot);
  }
}

// Reads what is waiting (bounded batch); returns the number of packets read.
static int read_batch(direction *d) {
  static _Thread_local uint8_t scratch[65536];
  int n = 0;
  for (; n < 64; n++) {
    int have_slot = d->free_count > 0;
    uint32_t slot = have_slot ? d->free_slots[d->free_count - 1] : 0;
    uint8_t *buf = have_slot ? slot_buf(d, slot) : scratch;
    ssize_t r = read(d->in_fd, buf, have_slot ? slot_size : sizeof scratch);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int64_t now = mono_ns();
    if (!have_slot) {
      ADD(d->c.in_pkts, 1);
      ADD(d->c.in_bytes, r);
      ADD(d->c.drop_pool, 1);
      continue;
    }
    d->free_count--;
    ingress(d, slot, (uint32_t)r, now);
  }
  return n;
}

static void *direction_main(void *arg) {
  direction *d = arg;
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  if (rt_prio > 0) {
    struct sched_param sp = {.sched_priority = rt_prio};
    int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    if (err) fprintf(stderr, "linkem: SCHED_FIFO %d not granted (%s); timing may suffer under load\n", rt_prio, strerror(err));
  }
  struct pollfd pf[2] = {{.fd = d->in_fd, .events = POLLIN}, {.fd = stop_efd, .events = POLLIN}};
  while (!atomic_load(&stopping)) {
    release_due(d, mono_ns());
    if (read_batch(d) > 0) continue;
    struct timespec ts, *tsp = NULL;
    if (d->heap_len) {
      int64_t wait = d->heap[0].t - mono_ns() - spin_ns;
      if (wait <= 0) {
        if (spin_ns) continue;
        wait = 0;
      }
      ts.tv_sec = wait / 1000000000LL;
      ts.tv_nsec = wait % 1000000000LL;
      tsp = &ts;
    }
    if (ppoll(pf, 2, tsp, NULL) < 0 && errno != EINTR) die("ppoll: %s", strerror(errno));
  }
  return NULL;
}

// ---------- reporting ----------

static direction dirs[2];
static int64_t start_ns;

static double thread_cpu_s(pthread_t t) {
  clockid_t cid;
  struct timespec ts;
  if (pthread_getcpuclockid(t, &cid) || clock_gettime(cid, &ts)) return -1;
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

// Upper bound (us) of the histogram bucket holding quantile q of the release lateness.
static double late_quantile_us(const counters *c, double q) {
  uint64_t total = 0, seen = 0;
  for (int i = 0; i < LATE_BUCKETS; i++) total += LOAD(c->late_hist[i]);
  if (!total) return 0;
  for (int i = 0; i < LATE_BUCKETS; i++) {
    seen += LOAD(c->late_hist[i]);
    if ((double)seen >= q * (double)total) return (double)(1LL << i);
  }
  return (double)(1LL << (LATE_BUCKETS - 1));
}

static void print_dir(const direction *d, double cpu_s) {
  const counters *c = &d->c;
  uint64_t out = LOAD(c->out_pkts);
  printf("\"%s\":{\"in\":%llu,\"in_bytes\":%llu,\"out\":%llu,\"out_bytes\":%llu,\"dropped_queue\":%llu,"
         "\"dropped_loss\":%llu,\"dropped_mtu\":%llu,\"dropped_pool\":%llu,\"oversize\":%llu,\"duplicated\":%llu,"
         "\"reordered\":%llu,\"write_errors\":%llu,\"queue_hw_bytes\":%llu,\"queue_hw_pkts\":%llu,\"held\":%llu,"
         "\"held_hw\":%llu,\"late_avg_us\":%.1f,\"late_p50_us\":%.0f,\"late_p99_us\":%.0f,\"late_max_us\":%.1f,"
         "\"cpu_s\":%.3f}",
         d->name, (unsigned long long)LOAD(c->in_pkts), (unsigned long long)LOAD(c->in_bytes),
         (unsigned long long)out, (unsigned long long)LOAD(c->out_bytes), (unsigned long long)LOAD(c->drop_queue),
         (unsigned long long)LOAD(c->drop_loss), (unsigned long long)LOAD(c->drop_mtu),
         (unsigned long long)LOAD(c->drop_pool), (unsigned long long)LOAD(c->oversize),
         (unsigned long long)LOAD(c->duplicated), (unsigned long long)LOAD(c->reordered),
         (unsigned long long)LOAD(c->write_err), (unsigned long long)LOAD(c->queue_hw_bytes),
         (unsigned long long)LOAD(c->queue_hw_pkts), (unsigned long long)LOAD(c->held),
         (unsigned long long)LOAD(c->held_hw), out ? (double)LOAD(c->late_sum_ns) / (double)out / 1e3 : 0.0,
         late_quantile_us(c, 0.5), late_quantile_us(c, 0.99), (double)LOAD(c->late_max_ns) / 1e3, cpu_s);
}

static void print_stats(const char *event, const double cpu[2]) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double elapsed = (double)(mono_ns() - start_ns) / 1e9;
  double user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  printf("{\"event\":\"%s\",\"t\":%.3f,", event, elapsed);
  print_dir(&dirs[0], cpu[0]);
  putchar(',');
  print_dir(&dirs[1], cpu[1]);
  printf(",\"cpu\":{\"user_s\":%.3f,\"sys_s\":%.3f,\"pct\":%.1f,\"max_rss_kb\":%ld}}\n", user, sys,
         elapsed > 0 ? 100 * (user + sys) / elapsed : 0.0, ru.ru_maxrss);
  fflush(stdout);
}

static void print_cfg(const char *name, const dir_cfg *c) {
  printf("\"%s\":{\"rate_bps\":%.0f,\"queue_bytes\":%lld,\"queue_pkts\":%lld,\"delay_us\":%.1f,\"jitter_us\":%.1f,"
         "\"jitter_dist\":\"%s\",\"jitter_reorder\":%d,\"loss\":%g,\"ge\":%s,\"dup\":%g,\"reorder\":%g,"
         "\"reorder_gap_us\":%.1f,\"mtu\":%lld,\"mtu_mode\":\"%s\",\"overhead\":%lld}",
         name, c->rate_bps, (long long)c->queue_bytes, (long long)c->queue_pkts, c->delay_ns / 1e3,
         c->jitter_ns / 1e3, c->jitter_normal ? "normal" : "uniform", c->jitter_reorder, c->loss,
         c->ge_on ? "true" : "false", c->dup, c->reorder, c->reorder_gap_ns / 1e3, (long long)c->mtu,
         c->mtu_count_only ? "count" : "drop", (long long)c->overhead);
}

// ---------- main ----------

int main(int argc, char **argv) {
  const char *ns[2] = {NULL, NULL}, *dev[2] = {"lk0", "lk0"};
  int dev_mtu = 1500, txqlen = 1000;
  long stats_ms = 0;
  long watch_pid = 0;
  uint64_t seed = 1;
  dir_cfg cfg[2];
  memset(cfg, 0, sizeof cfg);
  for (int i = 0; i < 2; i++) {
    cfg[i].queue_bytes = -1;
    cfg[i].reorder_gap_ns = 1000000;
  }

  for (int pass = 0; pass < 2; pass++) {
    for (int i = 1; i < argc; i++) {
      const char *opt = argv[i];
      if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
        fputs(usage_text, stdout);
        return 0;
      }
      if (strncmp(opt, "--", 2) || i + 1 >= argc) die("bad argument '%s' (see --help)", opt);
      const char *v = argv[++i], *key = opt + 2;
      int which = -1;
      if (!strncmp(key, "ab-", 3)) which = 0, key += 3;
      else if (!strncmp(key, "ba-", 3)) which = 1, key += 3;
      dir_cfg probe = cfg[0];
      if (set_impairment(&probe, key, opt, v)) {
        if (pass == 0 && which < 0) set_impairment(&cfg[0], key, opt, v), set_impairment(&cfg[1], key, opt, v);
        if (pass == 1 && which >= 0) set_impairment(&cfg[which], key, opt, v);
        continue;
      }
      if (which >= 0) die("unknown option '%s'", opt);
      if (pass == 1) continue;
      if (!strcmp(key, "ns-a")) ns[0] = v;
      else if (!strcmp(key, "ns-b")) ns[1] = v;
      else if (!strcmp(key, "dev-a")) dev[0] = v;
      else if (!strcmp(key, "dev-b")) dev[1] = v;
      else if (!strcmp(key, "dev-mtu")) dev_mtu = (int)parse_size(opt, v);
      else if (!strcmp(key, "txqueuelen")) txqlen = (int)parse_size(opt, v);
      else if (!strcmp(key, "pool")) pool_size = (uint32_t)parse_size(opt, v);
      else if (!strcmp(key, "seed")) seed = strtoull(v, NULL, 0);
      else if (!strcmp(key, "watch-pid")) watch_pid = (long)parse_size(opt, v);
      else if (!strcmp(key, "stats-ms")) stats_ms = (long)parse_size(opt, v);
      else if (!strcmp(key, "spin-us")) spin_ns = parse_size(opt, v) * 1000;
      else if (!strcmp(key, "rt-prio")) rt_prio = (int)parse_size(opt, v);
      else die("unknown option '%s' (see --help)", opt);
    }
  }
  if (!ns[0] || !ns[1]) die("--ns-a and --ns-b are required (see --help)");
  if (dev_mtu < 68 || dev_mtu > 65535) die("--dev-mtu out of range");
  if (pool_size < 16 || pool_size > (1u << 22)) die("--pool out of range (16 .. 4194304)");
  slot_size = ((size_t)dev_mtu + 63) / 64 * 64;
  int64_t rtt_ns = cfg[0].delay_ns + cfg[1].delay_ns;
  for (int i = 0; i < 2; i++) {
    if (cfg[i].queue_bytes >= 0) continue;
    double bdp = cfg[i].rate_bps * (double)rtt_ns / 8e9;
    cfg[i].queue_bytes = llround(bdp > 16.0 * dev_mtu ? bdp : 16.0 * dev_mtu);
  }

  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGUSR1);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  int fd_a = open_tun_in(ns[0], dev[0], dev_mtu, txqlen);
  int fd_b = open_tun_in(ns[1], dev[1], dev_mtu, txqlen);
  stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_efd < 0) die("eventfd: %s", strerror(errno));
  dirs[0].cfg = cfg[0];
  dirs[1].cfg = cfg[1];
  direction_init(&dirs[0], "ab", fd_a, fd_b, seed * 2 + 1);
  direction_init(&dirs[1], "ba", fd_b, fd_a, seed * 2 + 2);

  start_ns = mono_ns();
  printf("{\"event\":\"ready\",\"pid\":%d,\"ns_a\":\"%s\",\"dev_a\":\"%s\",\"ns_b\":\"%s\",\"dev_b\":\"%s\",\"dev_mtu\":%d,"
         "\"pool\":%u,\"seed\":%llu,",
         (int)getpid(), ns[0], dev[0], ns[1], dev[1], dev_mtu, pool_size, (unsigned long long)seed);
  print_cfg("ab", &cfg[0]);
  putchar(',');
  print_cfg("ba", &cfg[1]);
  puts("}");
  fflush(stdout);

  for (int i = 0; i < 2; i++)
    if (pthread_create(&dirs[i].thread, NULL, direction_main, &dirs[i])) die("pthread_create failed");

  int64_t next_stats = stats_ms > 0 ? start_ns + stats_ms * 1000000LL : INT64_MAX;
  for (;;) {
    int64_t wait = next_stats == INT64_MAX ? 1000000000LL : next_stats - mono_ns();
    if (wait > 1000000000LL) wait = 1000000000LL;
    if (wait < 0) wait = 0;
    struct timespec ts = {wait / 1000000000LL, wait % 1000000000LL};
    int sig = sigtimedwait(&sigs, NULL, &ts);
    double cpu[2] = {thread_cpu_s(dirs[0].thread), thread_cpu_s(dirs[1].thread)};
    if (sig == SIGUSR1) print_stats("snapshot", cpu);
    else if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) break;
    else if (watch_pid > 0 && kill((pid_t)watch_pid, 0) < 0 && errno == ESRCH) break;
    else if (mono_ns() >= next_stats) {
      print_stats("stats", cpu);
      next_stats += stats_ms * 1000000LL;
    }
  }
  double cpu[2] = {thread_cpu_s(dirs[0].thread), thread_cpu_s(dirs[1].thread)};
  atomic_store(&stopping, 1);
  uint64_t one = 1;
  if (write(stop_efd, &one, sizeof one) < 0) die("eventfd write: %s", strerror(errno));
  for (int i = 0; i < 2; i++) pthread_join(dirs[i].thread, NULL);
  print_stats("final", cpu);
  close(fd_a);
  close(fd_b);
  return 0;
}
