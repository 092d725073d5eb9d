// UDP socket set-up: non-blocking, close-on-exec, no SO_REUSEADDR, big buffers (forced when permitted).
#include "socket_setup.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace udt {

static int readBuf(int fd, int opt) {
  int v = 0;
  socklen_t l = sizeof(v);
  if (getsockopt(fd, SOL_SOCKET, opt, &v, &l) != 0) return 0;
  return v;
}

static int requestBuf(int fd, int opt, int forceOpt, int bytes) {
  if (bytes > 0) {
    bool forced = false;
#ifdef __linux__
    forced = setsockopt(fd, SOL_SOCKET, forceOpt, &bytes, sizeof(bytes)) == 0;
#else
    (void)forceOpt;
#endif
    if (!forced) setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
  }
  return readBuf(fd, opt);
}

static int makeSocket(int family) {
#ifdef __linux__
  return socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
  int fd = socket(family, SOCK_DGRAM, 0);
  if (fd >= 0) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  return fd;
#endif
}

static bool fail(SocketError& e, const char* code, const char* syscall, int err, std::string msg, int fd) {
  if (fd >= 0) close(fd);
  e.code = code;
  e.syscall = syscall;
  e.err = err;
  e.message = std::move(msg);
  return false;
}

bool openSocket(const SocketParams& p, SocketInfo& out, SocketError& e) {
  Addr local;
  std::string perr;
  std::string host = p.address.empty() ? (p.family == AF_INET ? "0.0.0.0" : "::") : p.address;
  if (!parseAddr(p.family, p.ipv6Only, host, p.port, local, perr)) {
    return fail(e, "ERR_UDT_ENGINE_ADDRESS", "bind", 0, perr, -1);
  }
  int fd = makeSocket(p.family);
  if (fd < 0) return fail(e, "ERR_UDT_ENGINE_SOCKET", "socket", errno, std::strerror(errno), -1);
  if (p.family == AF_INET6) {
    int on = p.ipv6Only ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) {
      return fail(e, "ERR_UDT_ENGINE_SOCKET", "setsockopt", errno, "IPV6_V6ONLY: " + std::string(std::strerror(errno)), fd);
    }
  }
  if (bind(fd, &local.u.sa, local.len) != 0) {
    int err = errno;
    return fail(e, "ERR_UDT_ENGINE_BIND", "bind", err, std::strerror(err), fd);
  }
  Addr bound;
  std::memset(&bound, 0, sizeof(bound));
  socklen_t bl = sizeof(bound.u);
  getsockname(fd, &bound.u.sa, &bl);
  bound.len = bl;
  out.fd = fd;
  out.bound = bound;
#ifdef __linux__
  out.sndBufGranted = requestBuf(fd, SO_SNDBUF, SO_SNDBUFFORCE, p.sndBuf);
  out.rcvBufGranted = requestBuf(fd, SO_RCVBUF, SO_RCVBUFFORCE, p.rcvBuf);
  int seg = 0;
  socklen_t sl = sizeof(seg);
  out.gsoAvailable = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, &sl) == 0;
  if (p.wantGro) {
    int on = 1;
    out.groEnabled = setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
  }
  int stamp = 1;
  out.rxTimestamps = setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &stamp, sizeof(stamp)) == 0;
#else
  int stamp = 1;
  out.rxTimestamps = setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &stamp, sizeof(stamp)) == 0;
  out.sndBufGranted = requestBuf(fd, SO_SNDBUF, 0, p.sndBuf);
  out.rcvBufGranted = requestBuf(fd, SO_RCVBUF, 0, p.rcvBuf);
#endif
  return true;
}

}  // namespace udt
