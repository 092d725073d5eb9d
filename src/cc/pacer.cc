// Pacer: the send thread. Consumes the block ring in order, waits for each datagram's sendAt, batches what is due.
#include "pacer.h"

#include <cerrno>
#include <chrono>
#include <poll.h>
#include <vector>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "clock.h"

namespace udt {

namespace {
inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace

Pacer::Pacer(TxRing* ring, int fd, PathState* path, Stats* stats, PacerTuning tuning, PacerHooks hooks)
    : ring_(ring), fd_(fd), path_(path), stats_(stats), tuning_(tuning), hooks_(hooks) {}

Pacer::~Pacer() {
  stop(false);
  join();
}

void Pacer::start() {
  cons_ = ring_->consumed();
  thread_ = std::thread([this] { run(); });
}

void Pacer::wake() {
  if (sleeping_.load(std::memory_order_seq_cst)) {
    std::lock_guard<std::mutex> lk(mu_);
    cv_.notify_one();
  }
}

void Pacer::stop(bool drain) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (drain) {
      drainDeadline_.store(monoUs() + tuning_.drainMs * 1000, std::memory_order_relaxed);
      drain_.store(true, std::memory_order_release);
    } else {
      stopNow_.store(true, std::memory_order_release);
    }
  }
  cv_.notify_all();
}

void Pacer::join() {
  if (thread_.joinable()) thread_.join();
}

void Pacer::publish() {
  ring_->ctl->consumed.store(static_cast<int32_t>(cons_), std::memory_order_seq_cst);
  if (ring_->ctl->wantWritable.load(std::memory_order_seq_cst) == 0) return;
  uint32_t inflight = ring_->committed.load(std::memory_order_acquire) - cons_;
  uint32_t room = ring_->nblocks - inflight;
  if (room * 4 >= ring_->nblocks && ring_->ctl->wantWritable.exchange(0, std::memory_order_seq_cst) != 0) {
    hooks_.writable(hooks_.arg);
  }
}

// Moves the cursor past rejected slots and finished blocks, publishing each finished block.
void Pacer::settle(uint32_t c) {
  bool moved = false;
  while (cons_ != c) {
    const TxBlock& blk = ring_->blocks[ring_->blockOf(cons_)];
    if (!entered_) {
      pos_ = blk.start;
      entered_ = true;
    }
    while (pos_ < blk.count && ring_->slot(cons_, pos_).len == TxSlot::kSkip) pos_++;
    if (pos_ < blk.count) break;
    cons_++;
    entered_ = false;
    moved = true;
  }
  if (moved) publish();
}

void Pacer::advance(size_t items, uint32_t c) {
  while (items > 0 && cons_ != c) {
    settle(c);
    if (cons_ == c) break;
    pos_++;
    items--;
  }
  settle(c);
}

void Pacer::waitForWork() {
  std::unique_lock<std::mutex> lk(mu_);
  sleeping_.store(true, std::memory_order_seq_cst);
  cv_.wait(lk, [this] {
    return ring_->committed.load(std::memory_order_seq_cst) != cons_ || stopNow_.load() || drain_.load();
  });
  sleeping_.store(false, std::memory_order_relaxed);
}

void Pacer::sleepUntil(int64_t t) {
  int64_t now = monoUs();
  if (t - now > tuning_.spinUs) {
    std::unique_lock<std::mutex> lk(mu_);
    auto until = std::chrono::steady_clock::time_point(std::chrono::microseconds(t - tuning_.spinUs));
    cv_.wait_until(lk, until, [this] { return stopNow_.load() || drain_.load(); });
    return;
  }
  while (monoUs() < t) {
    if (stopNow_.load(std::memory_order_relaxed) || drain_.load(std::memory_order_relaxed)) return;
    cpuRelax();
  }
}

bool Pacer::waitWritable(int64_t deadline) {
  for (;;) {
    if (stopNow_.load(std::memory_order_relaxed)) return false;
    if (deadline && monoUs() >= deadline) return false;
    pollfd p{fd_, POLLOUT, 0};
    int r = poll(&p, 1, 5);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return true;
  }
}

uint64_t Pacer::countQueued(uint32_t c) {
  uint64_t n = 0;
  for (uint32_t b = cons_; b != c; b++) {
    const TxBlock& blk = ring_->blocks[ring_->blockOf(b)];
    uint32_t from = (b == cons_ && entered_) ? pos_ : blk.start;
    for (uint32_t i = from; i < blk.count; i++) {
      if (ring_->slot(b, i).len != TxSlot::kSkip) n++;
    }
  }
  return n;
}

void Pacer::run() {
#ifdef __linux__
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
#endif
  Sender sender(fd_, path_, stats_);
  std::vector<TxItem> items(Sender::kMaxItems);
  std::vector<int64_t> dues(Sender::kMaxItems);
  int64_t shift = 0;
  for (;;) {
    if (stopNow_.load(std::memory_order_acquire)) break;
    bool drain = drain_.load(std::memory_order_acquire);
    uint32_t c = ring_->committed.load(std::memory_order_acquire);
    settle(c);
    if (cons_ == c) {
      if (drain) break;
      shift = 0;
      waitForWork();
      continue;
    }
    int64_t now = monoUs();
    const TxSlot& head = ring_->slot(cons_, pos_);
    if (!drain && head.due != 0) {
      if (head.due > now) shift = 0;
      int64_t eff = head.due + shift;
      if (eff > now + tuning_.earlyUs) {
        sleepUntil(eff - tuning_.earlyUs);
        continue;
      }
      if (now - eff > tuning_.burstCapUs) shift = now - head.due - tuning_.burstCapUs;
    }
    size_t n = 0;
    uint32_t b = cons_;
    uint32_t i = pos_;
    while (n < Sender::kMaxItems && b != c) {
      const TxBlock& blk = ring_->blocks[ring_->blockOf(b)];
      if (i >= blk.count) {
        b++;
        if (b != c) i = ring_->blocks[ring_->blockOf(b)].start;
        continue;
      }
      const TxSlot& s = ring_->slot(b, i);
      if (s.len != TxSlot::kSkip) {
        if (!drain && s.due != 0 && s.due + shift > now + tuning_.earlyUs) break;
        items[n] = TxItem{ring_->payload(b, i), s.len, &s.addr};
        dues[n] = s.due;
        n++;
      }
      i++;
    }
    int64_t sentAt = monoUs();
    SendOutcome o = sender.send(items.data(), n);
    uint64_t paced = 0;
    uint64_t lateSum = 0;
    uint64_t lateMax = 0;
    for (size_t k = 0; k < o.done; k++) {
      if (dues[k] == 0) continue;
      uint64_t late = sentAt > dues[k] ? static_cast<uint64_t>(sentAt - dues[k]) : 0;
      paced++;
      lateSum += late;
      if (late > lateMax) lateMax = late;
    }
    if (paced) {
      Stats::add(stats_->pacedCount, paced);
      Stats::add(stats_->pacedLateSumUs, lateSum);
      Stats::max(stats_->pacedLateMaxUs, lateMax);
    }
    advance(o.done, c);
    if (o.wouldBlock && !waitWritable(drain ? drainDeadline_.load(std::memory_order_relaxed) : 0)) {
      if (stopNow_.load()) break;
      if (drain && monoUs() >= drainDeadline_.load(std::memory_order_relaxed)) break;
    }
  }
  uint32_t c = ring_->committed.load(std::memory_order_acquire);
  uint64_t left = countQueued(c);
  if (left) Stats::add(stats_->droppedOnClose, left);
  cons_ = c;
  entered_ = false;
  ring_->ctl->consumed.store(static_cast<int32_t>(cons_), std::memory_order_seq_cst);
  hooks_.exited(hooks_.arg);
}

}  // namespace udt
