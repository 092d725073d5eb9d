// Creating and configuring the engine's UDP socket: bind, IPV6_V6ONLY, buffer sizes, GSO/GRO availability.
#pragma once

#include <string>

#include "sock_addr.h"

namespace udt {

struct SocketParams {
  int family;  // AF_INET or AF_INET6
  std::string address;
  int port;
  bool ipv6Only;
  int sndBuf;  // bytes requested; <= 0 leaves the kernel default
  int rcvBuf;
  bool wantGro;
};

struct SocketInfo {
  int fd = -1;
  Addr bound{};
  int sndBufGranted = 0;
  int rcvBufGranted = 0;
  bool gsoAvailable = false;
  bool groEnabled = false;
  bool rxTimestamps = false;  // the kernel stamps each received datagram (SO_TIMESTAMPNS / SO_TIMESTAMP)
};

struct SocketError {
  const char* code;     // stable ERR_UDT_ENGINE_* code
  const char* syscall;  // failing call
  int err;              // errno (0 when not a system error)
  std::string message;
};

/** Opens a bound non-blocking UDP socket. Returns false and fills `e` on failure (nothing left open). */
bool openSocket(const SocketParams& p, SocketInfo& out, SocketError& e);

}  // namespace udt
