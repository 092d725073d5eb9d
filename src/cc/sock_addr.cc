// Parsing and formatting of peer socket addresses.
#include "sock_addr.h"

#include <arpa/inet.h>
#include <cstdlib>
#include <net/if.h>

namespace udt {

bool isLoopback(const Addr& a) {
  if (a.u.sa.sa_family == AF_INET) return (ntohl(a.u.v4.sin_addr.s_addr) >> 24) == 127;
  const uint8_t* b = a.u.v6.sin6_addr.s6_addr;
  static const uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b, one, 16) == 0 || (std::memcmp(b, mapped, 12) == 0 && b[12] == 127);
}

void normalizeAddr(Addr& a) {
  if (a.u.sa.sa_family == AF_INET) {
    std::memset(a.u.v4.sin_zero, 0, sizeof(a.u.v4.sin_zero));
    a.len = sizeof(sockaddr_in);
  } else if (a.u.sa.sa_family == AF_INET6) {
    a.u.v6.sin6_flowinfo = 0;
    a.len = sizeof(sockaddr_in6);
  }
}

static bool parseScope(const std::string& s, uint32_t& scope) {
  if (s.empty()) return false;
  char* end = nullptr;
  unsigned long v = std::strtoul(s.c_str(), &end, 10);
  if (end && *end == '\0') {
    scope = static_cast<uint32_t>(v);
    return true;
  }
  scope = if_nametoindex(s.c_str());
  return scope != 0;
}

bool parseAddr(int family, bool v6only, const std::string& ip, int port, Addr& out, std::string& err) {
  std::memset(&out, 0, sizeof(out));
  if (port < 0 || port > 65535) {
    err = "port out of range";
    return false;
  }
  in_addr a4;
  bool isV4 = inet_pton(AF_INET, ip.c_str(), &a4) == 1;
  if (family == AF_INET) {
    if (!isV4) {
      err = "not an IPv4 address: " + ip;
      return false;
    }
    out.u.v4.sin_family = AF_INET;
    out.u.v4.sin_port = htons(static_cast<uint16_t>(port));
    out.u.v4.sin_addr = a4;
    out.len = sizeof(sockaddr_in);
    return true;
  }
  out.u.v6.sin6_family = AF_INET6;
  out.u.v6.sin6_port = htons(static_cast<uint16_t>(port));
  out.len = sizeof(sockaddr_in6);
  if (isV4) {
    if (v6only) {
      err = "IPv4 address on an IPv6-only socket: " + ip;
      return false;
    }
    uint8_t* b = out.u.v6.sin6_addr.s6_addr;
    b[10] = 0xff;
    b[11] = 0xff;
    std::memcpy(b + 12, &a4, 4);
    return true;
  }
  std::string host = ip;
  size_t pct = ip.find('%');
  if (pct != std::string::npos) {
    host = ip.substr(0, pct);
    uint32_t scope = 0;
    if (!parseScope(ip.substr(pct + 1), scope)) {
      err = "bad IPv6 scope: " + ip;
      return false;
    }
    out.u.v6.sin6_scope_id = scope;
  }
  if (inet_pton(AF_INET6, host.c_str(), &out.u.v6.sin6_addr) != 1) {
    err = "not an IP address: " + ip;
    return false;
  }
  return true;
}

std::string formatAddr(const Addr& a, int* port) {
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  if (a.u.sa.sa_family == AF_INET) {
    inet_ntop(AF_INET, &a.u.v4.sin_addr, buf, sizeof(buf));
    *port = ntohs(a.u.v4.sin_port);
    return buf;
  }
  inet_ntop(AF_INET6, &a.u.v6.sin6_addr, buf, sizeof(buf));
  *port = ntohs(a.u.v6.sin6_port);
  std::string s = buf;
  if (a.u.v6.sin6_scope_id != 0) {
    char name[IF_NAMESIZE];
    s += '%';
    s += if_indextoname(a.u.v6.sin6_scope_id, name) ? std::string(name) : std::to_string(a.u.v6.sin6_scope_id);
  }
  return s;
}

}  // namespace udt
