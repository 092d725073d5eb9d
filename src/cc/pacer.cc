// Pacer: the send thread. Scans the queued blocks for due datagrams, sends them in batches, frees blocks in order.
#include "pacer.h"

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <poll.h>
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
constexpr int64_t kNever = INT64_MAX;
}  // namespace

Pacer::Pacer(TxRing* ring, int fd, PathState* path, Stats* stats, PacerTuning tuning, PacerHooks hooks)
    : ring_(ring),
      fd_(fd),
      path_(path),
      stats_(stats),
      tuning_(tuning),
      hooks_(hooks),
      items_(Sender::kMaxItems),
      itemSlots_(Sender::kMaxItems),
      itemBlocks_(Sender::kMaxItems) {}

Pacer::~Pacer() {
  stop(false);
  join();
}

void Pacer::start() {
  cons_ = ring_->consumed();
  thread_ = std::thread([this] { run(); });
}

void Pacer::wake(int64_t minDue) {
  if (sleeping_.load(std::memory_order_seq_cst) && minDue < wakeTarget_.load(std::memory_order_seq_cst)) {
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

// Moves the head past sent or rejected slots and frees (publishes) every block that has nothing left.
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

// Collects up to kMaxItems due datagrams in commit order, skipping (not stopping at) ones scheduled later.
Pacer::Scan Pacer::gather(uint32_t c, int64_t now, bool drain) {
  const int64_t limit = now + std::max(tuning_.earlyUs, tuning_.burstUs) - shift_;
  Scan r{0, kNever};
  for (uint32_t b = cons_; b != c && r.n < Sender::kMaxItems; b++) {
    TxBlock& blk = ring_->blocks[ring_->blockOf(b)];
    if (!drain && blk.minDue > limit) {
      if (blk.minDue < r.nextDue) r.nextDue = blk.minDue;
      continue;
    }
    int64_t left = kNever;
    uint32_t i = b == cons_ ? pos_ : blk.start;
    for (; i < blk.count; i++) {
      TxSlot& s = ring_->slot(b, i);
      if (s.len == TxSlot::kSkip) continue;
      if (!drain && s.due > limit) {
        if (s.due < left) left = s.due;
        continue;
      }
      if (r.n == Sender::kMaxItems) {
        left = std::min(left, s.due);
        break;
      }
      items_[r.n] = TxItem{ring_->payload(b, i), s.len, &s.addr};
      itemSlots_[r.n] = &s;
      itemBlocks_[r.n] = &blk;
      r.n++;
    }
    blk.minDue = i == blk.count ? left : std::min(blk.minDue, left);
    if (left < r.nextDue) r.nextDue = left;
  }
  return r;
}

// After a stall, sends at most burstCapUs of overdue schedule now and shifts the rest later (order is kept: due times
// are non-decreasing per connection and one shift applies to all).
void Pacer::capBurst(Scan& scan, int64_t now) {
  int64_t first = kNever;
  for (size_t k = 0; k < scan.n; k++) first = std::min(first, itemSlots_[k]->due);
  if (now - (first + shift_) <= tuning_.burstCapUs || shift_ >= tuning_.maxShiftUs) return;
  shift_ = std::min(now - first - tuning_.burstCapUs, tuning_.maxShiftUs);
  Stats::max(stats_->paceShiftMaxUs, static_cast<uint64_t>(shift_));
  const int64_t limit = now + std::max(tuning_.earlyUs, tuning_.burstUs) - shift_;
  size_t kept = 0;
  for (size_t k = 0; k < scan.n; k++) {
    TxSlot* s = itemSlots_[k];
    if (s->due <= limit) {
      items_[kept] = items_[k];
      itemSlots_[kept] = s;
      itemBlocks_[kept] = itemBlocks_[k];
      kept++;
    } else {
      itemBlocks_[k]->minDue = std::min(itemBlocks_[k]->minDue, s->due);
      scan.nextDue = std::min(scan.nextDue, s->due);
    }
  }
  scan.n = kept;
}

void Pacer::account(const SendOutcome& o, size_t n, int64_t sentAt) {
  uint64_t lateSum = 0;
  uint64_t lateMax = 0;
  for (size_t k = 0; k < o.done; k++) {
    TxSlot* s = itemSlots_[k];
    uint64_t late = sentAt > s->due ? static_cast<uint64_t>(sentAt - s->due) : 0;
    lateSum += late;
    if (late > lateMax) lateMax = late;
    s->len = TxSlot::kSkip;
  }
  for (size_t k = o.done; k < n; k++) itemBlocks_[k]->minDue = std::min(itemBlocks_[k]->minDue, itemSlots_[k]->due);
  if (o.done) {
    Stats::add(stats_->pacedCount, o.done);
    Stats::add(stats_->pacedLateSumUs, lateSum);
    Stats::max(stats_->pacedLateMaxUs, lateMax);
  }
}

void Pacer::sleepUntil(int64_t t, uint32_t c) {
  int64_t now = monoUs();
  if (t - now > tuning_.spinUs) {
    std::unique_lock<std::mutex> lk(mu_);
    wakeTarget_.store(t, std::memory_order_seq_cst);
    sleeping_.store(true, std::memory_order_seq_cst);
    auto until = t == kNever ? std::chrono::steady_clock::time_point::max()
                             : std::chrono::steady_clock::time_point(std::chrono::microseconds(t - tuning_.spinUs));
    auto woken = [this, c] {
      return ring_->committed.load(std::memory_order_seq_cst) != c || stopNow_.load() || drain_.load();
    };
    if (t == kNever) {
      cv_.wait(lk, woken);
    } else {
      cv_.wait_until(lk, until, woken);
    }
    sleeping_.store(false, std::memory_order_relaxed);
    wakeTarget_.store(kNever, std::memory_order_relaxed);
    return;
  }
  while (monoUs() < t) {
    if (stopNow_.load(std::memory_order_relaxed) || drain_.load(std::memory_order_relaxed) ||
        ring_->committed.load(std::memory_order_relaxed) != c) {
      return;
    }
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
  prctl(PR_SET_NAME, "udt-pacer", 0, 0, 0);
#endif
  Sender sender(fd_, path_, stats_);
  int64_t last = monoUs();
  for (;;) {
    if (stopNow_.load(std::memory_order_acquire)) break;
    bool drain = drain_.load(std::memory_order_acquire);
    uint32_t c = ring_->committed.load(std::memory_order_acquire);
    settle(c);
    if (cons_ == c) {
      if (drain) break;
      shift_ = 0;
      sleepUntil(kNever, c);
      last = monoUs();
      continue;
    }
    int64_t now = monoUs();
    if (shift_ > 0) shift_ = std::max<int64_t>(0, shift_ - (now - last) / tuning_.catchUpDiv);
    last = now;
    Scan scan = gather(c, now, drain);
    if (!drain && scan.n > 0) capBurst(scan, now);
    if (scan.n == 0) {
      sleepUntil(scan.nextDue == kNever ? kNever : scan.nextDue + shift_ - tuning_.earlyUs, c);
      continue;
    }
    int64_t sentAt = monoUs();
    SendOutcome o = sender.send(items_.data(), scan.n);
    account(o, scan.n, sentAt);
    settle(c);
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
