// Batched UDP send and receive with run-time fallback between GSO, sendmmsg and sendmsg.
#include "batch_io.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <netinet/udp.h>

namespace udt {

namespace {
constexpr size_t kCmsgSend = CMSG_SPACE(sizeof(uint16_t));
constexpr size_t kCmsgRecv = CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(timespec)) + 64;

bool isWouldBlock(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS; }
bool isGsoRefusal(int e) { return e == EIO || e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP || e == ENOPROTOOPT; }
}  // namespace

const char* sendPathName(SendPath p) {
  switch (p) {
    case SendPath::Gso:
      return "gso";
    case SendPath::Sendmmsg:
      return "sendmmsg";
    default:
      return "sendmsg";
  }
}

void PathState::downgradeFrom(SendPath from) {
  int expected = static_cast<int>(from);
  path.compare_exchange_strong(expected, expected + 1, std::memory_order_relaxed);
}

Sender::Sender(int fd, PathState* path, Stats* stats)
    : fd_(fd),
      path_(path),
      stats_(stats),
      iov_(kMaxItems),
      runFirst_(kMaxItems),
      runSegs_(kMaxItems),
      runBytes_(kMaxItems),
      cmsg_(kMaxItems * kCmsgSend),
      msgs_(kMaxItems) {}

size_t Sender::buildRuns(const TxItem* items, size_t n, bool gso) {
  if (n > kMaxItems) n = kMaxItems;
  for (size_t i = 0; i < n; i++) {
    iov_[i].iov_base = const_cast<uint8_t*>(items[i].data);
    iov_[i].iov_len = items[i].len;
  }
  size_t runs = 0;
  size_t i = 0;
  while (i < n) {
    const TxItem& first = items[i];
    uint32_t seg = first.len;
    uint32_t segs = 1;
    uint32_t bytes = seg;
    if (gso && seg > 0 && (path_->gsoLoopback || !isLoopback(*first.addr))) {
      while (i + segs < n && segs < kMaxGsoSegments) {
        const TxItem& nx = items[i + segs];
        if (nx.len == 0 || nx.len > seg || bytes + nx.len > kMaxGsoBytes || !(*nx.addr == *first.addr)) break;
        bytes += nx.len;
        segs++;
        if (nx.len < seg) break;
      }
    }
    runFirst_[runs] = static_cast<uint32_t>(i);
    runSegs_[runs] = segs;
    runBytes_[runs] = bytes;
    msghdr& h =
#ifdef __linux__
        msgs_[runs].msg_hdr;
#else
        msgs_[runs];
#endif
    std::memset(&h, 0, sizeof(h));
    h.msg_name = const_cast<sockaddr*>(&first.addr->u.sa);
    h.msg_namelen = first.addr->len;
    h.msg_iov = &iov_[i];
    h.msg_iovlen = segs;
#ifdef __linux__
    if (segs > 1) {
      char* cbuf = &cmsg_[runs * kCmsgSend];
      std::memset(cbuf, 0, kCmsgSend);
      h.msg_control = cbuf;
      h.msg_controllen = kCmsgSend;
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t s = static_cast<uint16_t>(seg);
      std::memcpy(CMSG_DATA(c), &s, sizeof(s));
    }
#endif
    runs++;
    i += segs;
  }
  return runs;
}

int Sender::sendRuns(size_t nruns) {
  SendPath p = path_->get();
#ifdef __linux__
  if (p != SendPath::Sendmsg) {
    Stats::add(stats_->sendCalls, 1);
    return sendmmsg(fd_, msgs_.data(), static_cast<unsigned>(nruns), 0);
  }
  Stats::add(stats_->sendCalls, 1);
  return sendmsg(fd_, &msgs_[0].msg_hdr, 0) < 0 ? -1 : 1;
#else
  (void)p;
  (void)nruns;
  Stats::add(stats_->sendCalls, 1);
  return sendmsg(fd_, &msgs_[0], 0) < 0 ? -1 : 1;
#endif
}

SendOutcome Sender::send(const TxItem* items, size_t n) {
  size_t done = 0;
  while (done < n) {
    SendPath p = path_->get();
    size_t runs = buildRuns(items + done, p == SendPath::Sendmsg ? 1 : n - done, p == SendPath::Gso);
    int r = sendRuns(runs);
    if (r > 0) {
      uint64_t dg = 0;
      uint64_t by = 0;
      uint64_t gsoRuns = 0;
      for (int k = 0; k < r; k++) {
        dg += runSegs_[k];
        by += runBytes_[k];
        if (runSegs_[k] > 1) gsoRuns++;
      }
      Stats::add(stats_->datagramsSent, dg);
      Stats::add(stats_->bytesSent, by);
      if (gsoRuns) Stats::add(stats_->gsoCalls, gsoRuns);
      done += dg;
      continue;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (isWouldBlock(e)) {
      Stats::add(stats_->sendWouldBlock, 1);
      return {done, true};
    }
    if (p == SendPath::Gso && runSegs_[0] > 1 && isGsoRefusal(e)) {
      path_->downgradeFrom(SendPath::Gso);
      continue;
    }
    if (p == SendPath::Sendmmsg && e == ENOSYS) {
      path_->downgradeFrom(SendPath::Sendmmsg);
      continue;
    }
    Stats::add(stats_->sendErrors, runSegs_[0]);
    stats_->lastSendErrno.store(e, std::memory_order_relaxed);
    done += runSegs_[0];
  }
  return {done, false};
}

Receiver::Receiver(int fd, uint8_t* slab, uint32_t slotSize, uint32_t slots, bool gro, bool timestamps)
    : fd_(fd),
      slab_(slab),
      slotSize_(slotSize),
      slots_(slots),
      gro_(gro),
      timestamps_(timestamps),
      names_(slots),
      iov_(slots),
      cmsg_(slots * kCmsgRecv),
      out_(slots),
      msgs_(slots) {
  for (uint32_t i = 0; i < slots; i++) {
    iov_[i].iov_base = slab_ + static_cast<size_t>(i) * slotSize_;
    iov_[i].iov_len = slotSize_;
  }
}

int Receiver::receive() {
  for (uint32_t i = 0; i < slots_; i++) {
    msghdr& h =
#ifdef __linux__
        msgs_[i].msg_hdr;
#else
        msgs_[i];
#endif
    std::memset(&h, 0, sizeof(h));
    h.msg_name = &names_[i].u;
    h.msg_namelen = sizeof(names_[i].u);
    h.msg_iov = &iov_[i];
    h.msg_iovlen = 1;
    if (gro_ || timestamps_) {
      h.msg_control = &cmsg_[i * kCmsgRecv];
      h.msg_controllen = kCmsgRecv;
    }
  }
  int n;
#ifdef __linux__
  do {
    n = recvmmsg(fd_, msgs_.data(), slots_, MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
#else
  n = 0;
  while (static_cast<uint32_t>(n) < slots_) {
    ssize_t r = recvmsg(fd_, &msgs_[n], MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (n == 0) return -errno;
      break;
    }
    out_[n].len = static_cast<uint32_t>(r);
    n++;
  }
#endif
  for (int i = 0; i < n; i++) {
    RxMsg& m = out_[i];
#ifdef __linux__
    msghdr& h = msgs_[i].msg_hdr;
    m.len = msgs_[i].msg_len;
#else
    msghdr& h = msgs_[i];
#endif
    names_[i].len = h.msg_namelen;
    normalizeAddr(names_[i]);
    m.from = &names_[i];
    m.offset = static_cast<uint32_t>(i) * slotSize_;
    m.truncated = (h.msg_flags & MSG_TRUNC) != 0;
    m.segSize = 0;
    m.rtNs = 0;
    if (!h.msg_control) continue;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
#ifdef __linux__
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int s = 0;
        std::memcpy(&s, CMSG_DATA(c), sizeof(s));
        m.segSize = s > 0 ? static_cast<uint32_t>(s) : 0;
      }
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts;
        std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
        m.rtNs = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
      }
#else
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMP) {
        timeval tv;
        std::memcpy(&tv, CMSG_DATA(c), sizeof(tv));
        m.rtNs = static_cast<int64_t>(tv.tv_sec) * 1000000000 + static_cast<int64_t>(tv.tv_usec) * 1000;
      }
#endif
    }
  }
  return n;
}

}  // namespace udt
