// Socket addresses: a compact IPv4/IPv6 sockaddr, numeric parsing (v4-mapped on IPv6 sockets) and formatting.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include <netinet/in.h>
#include <sys/socket.h>

namespace udt {

struct Addr {
  union {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } u;
  socklen_t len;

  bool operator==(const Addr& o) const { return len == o.len && std::memcmp(&u, &o.u, len) == 0; }
};

/** 127.0.0.0/8, ::1 or v4-mapped 127/8: a peer on this host. */
bool isLoopback(const Addr& a);

/** Zeroes the parts of a received sockaddr that don't name the peer, so equal peers compare equal bytewise. */
void normalizeAddr(Addr& a);

/**
 * Parses a numeric address for a socket of `family` (AF_INET or AF_INET6). On an IPv6 socket an IPv4 literal
 * becomes v4-mapped unless `v6only`. Returns false with `err` set when the address doesn't fit the socket.
 */
bool parseAddr(int family, bool v6only, const std::string& ip, int port, Addr& out, std::string& err);

/** Numeric text of the address (v4-mapped shown as ::ffff:a.b.c.d, scope appended as %name), and its port. */
std::string formatAddr(const Addr& a, int* port);

}  // namespace udt
