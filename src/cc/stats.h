// Engine counters, updated from the loop thread and the pacing thread (relaxed atomics, summed per system call).
#pragma once

#include <atomic>
#include <cstdint>

namespace udt {

struct Stats {
  std::atomic<uint64_t> datagramsSent{0};
  std::atomic<uint64_t> bytesSent{0};
  std::atomic<uint64_t> sendCalls{0};
  std::atomic<uint64_t> sendErrors{0};
  std::atomic<uint64_t> sendWouldBlock{0};
  std::atomic<uint64_t> gsoCalls{0};
  std::atomic<uint64_t> inlineSent{0};
  std::atomic<uint64_t> pacedCount{0};
  std::atomic<uint64_t> pacedLateSumUs{0};
  std::atomic<uint64_t> pacedLateMaxUs{0};
  std::atomic<uint64_t> paceShiftMaxUs{0};
  std::atomic<uint64_t> droppedOnClose{0};
  std::atomic<int> lastSendErrno{0};
  std::atomic<uint64_t> datagramsReceived{0};
  std::atomic<uint64_t> bytesReceived{0};
  std::atomic<uint64_t> recvCalls{0};
  std::atomic<uint64_t> recvErrors{0};
  std::atomic<uint64_t> recvTruncated{0};
  std::atomic<uint64_t> groSegmented{0};

  static void add(std::atomic<uint64_t>& c, uint64_t v) { c.fetch_add(v, std::memory_order_relaxed); }
  static void max(std::atomic<uint64_t>& c, uint64_t v) {
    uint64_t cur = c.load(std::memory_order_relaxed);
    while (v > cur && !c.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
  }
};

}  // namespace udt
