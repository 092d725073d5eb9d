// Batched UDP I/O: send runs with GSO, sendmmsg or sendmsg (falling back at run time), receive with recvmmsg + GRO.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <sys/socket.h>

#include "sock_addr.h"
#include "stats.h"

namespace udt {

enum class SendPath : int { Gso = 0, Sendmmsg = 1, Sendmsg = 2 };
const char* sendPathName(SendPath p);

struct TxItem {
  const uint8_t* data;
  uint32_t len;
  const Addr* addr;
};

struct SendOutcome {
  size_t done;      // items handed to the kernel or dropped (counted in sendErrors)
  bool wouldBlock;  // stopped on EAGAIN/ENOBUFS before `done == n`
};

/** The send path shared by every Sender of one socket; it only ever moves down (GSO → sendmmsg → sendmsg). */
struct PathState {
  std::atomic<int> path{static_cast<int>(SendPath::Sendmsg)};
  /**
   * GSO towards loopback peers too (the engine's option; JS turns it on by default). On loopback a GSO datagram is
   * never split on a wire, so its segments arrive at one instant: a receiver that stamps them with one kernel time
   * must spread the following gap over them (ours does; libudt stamps each recvmsg itself).
   */
  bool gsoLoopback = false;
  SendPath get() const { return static_cast<SendPath>(path.load(std::memory_order_relaxed)); }
  void downgradeFrom(SendPath from);
};

/** One per sending thread: holds the scratch message headers. */
class Sender {
 public:
  static constexpr size_t kMaxItems = 256;
  static constexpr uint32_t kMaxGsoSegments = 64;
  static constexpr uint32_t kMaxGsoBytes = 65507;

  Sender(int fd, PathState* path, Stats* stats);
  /** Sends items in order until all are done or the socket would block. Never drops silently. */
  SendOutcome send(const TxItem* items, size_t n);

 private:
  size_t buildRuns(const TxItem* items, size_t n, bool gso);
  int sendRuns(size_t nruns);

  int fd_;
  PathState* path_;
  Stats* stats_;
  std::vector<iovec> iov_;
  std::vector<uint32_t> runFirst_;
  std::vector<uint32_t> runSegs_;
  std::vector<uint32_t> runBytes_;
  std::vector<char> cmsg_;
#ifdef __linux__
  std::vector<mmsghdr> msgs_;
#else
  std::vector<msghdr> msgs_;
#endif
};

struct RxMsg {
  const Addr* from;
  uint32_t offset;   // in the slab
  uint32_t len;
  uint32_t segSize;  // GRO segment size, 0 when not coalesced
  bool truncated;
  int64_t rtNs;  // kernel arrival time (CLOCK_REALTIME ns), 0 when the kernel gave none
};

/** Receives up to `slots` datagrams per call into fixed-size slots of a slab. Loop thread only. */
class Receiver {
 public:
  Receiver(int fd, uint8_t* slab, uint32_t slotSize, uint32_t slots, bool gro, bool timestamps);
  /** Number of messages read (0 when none are waiting), or -errno. */
  int receive();
  const RxMsg& msg(int i) const { return out_[i]; }

 private:
  int fd_;
  uint8_t* slab_;
  uint32_t slotSize_;
  uint32_t slots_;
  bool gro_;
  bool timestamps_;
  std::vector<Addr> names_;
  std::vector<iovec> iov_;
  std::vector<char> cmsg_;
  std::vector<RxMsg> out_;
#ifdef __linux__
  std::vector<mmsghdr> msgs_;
#else
  std::vector<msghdr> msgs_;
#endif
};

}  // namespace udt
