// The send queue: a ring of fixed-size blocks that JS fills in shared memory, the loop thread commits in order and
// the pacing thread frees in order (single producer, single consumer, block counters as atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "sock_addr.h"

namespace udt {

/** Control words at the start of the JS-visible metadata region (read and written with Atomics from JS). */
struct TxCtl {
  std::atomic<int32_t> consumed;      // blocks fully sent; written by the pacing thread
  std::atomic<int32_t> wantWritable;  // set by JS when it found the ring full; cleared by whoever signals it
};
static_assert(sizeof(std::atomic<int32_t>) == 4, "JS reads the control words as an Int32Array");

struct TxSlot {
  static constexpr uint32_t kSkip = 0xffffffffu;  // nothing to send: rejected at commit, or already sent
  int64_t due;   // µs on the monotonic clock (sendAt, or the commit time when sendAt was 0 = at once)
  uint32_t len;
  Addr addr;
};

struct TxBlock {
  uint32_t start;  // first slot not yet sent (non-zero after a partial inline send)
  uint32_t count;
  int64_t minDue;  // a lower bound of the unsent slots' due times
};

struct TxRing {
  uint32_t nblocks = 0;  // a power of two, so block indices survive counter wrap-around
  uint32_t blockCap = 0;
  uint32_t stride = 0;
  uint8_t* data = nullptr;
  int32_t* jsLen = nullptr;
  int32_t* jsPeer = nullptr;
  double* jsSendAt = nullptr;
  TxCtl* ctl = nullptr;
  std::vector<TxSlot> slots;
  std::vector<TxBlock> blocks;
  std::atomic<uint32_t> committed{0};  // blocks published to the pacing thread; written by the loop thread

  uint32_t consumed() const { return static_cast<uint32_t>(ctl->consumed.load(std::memory_order_seq_cst)); }
  uint32_t blockOf(uint32_t counter) const { return counter & (nblocks - 1); }
  TxSlot& slot(uint32_t counter, uint32_t i) { return slots[static_cast<size_t>(blockOf(counter)) * blockCap + i]; }
  const uint8_t* payload(uint32_t counter, uint32_t i) const {
    return data + (static_cast<size_t>(blockOf(counter)) * blockCap + i) * stride;
  }
};

}  // namespace udt
