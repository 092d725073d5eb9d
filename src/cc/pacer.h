// The pacing thread: sends committed datagrams at their sendAt (sleep, then spin the last stretch), batching runs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "batch_io.h"
#include "stats.h"
#include "tx_ring.h"

namespace udt {

struct PacerTuning {
  int64_t spinUs = 50;       // sleep until this close to a deadline, then spin
  int64_t burstCapUs = 100;  // lateness kept as a burst; beyond it the schedule shifts later instead
  int64_t earlyUs = 2;       // a datagram may leave this much before its sendAt
  int64_t drainMs = 250;     // close() sends what is queued for at most this long, then drops the rest
};

struct PacerHooks {
  void (*writable)(void* arg);  // ring has room again and JS asked to know
  void (*exited)(void* arg);    // thread finished (after stop)
  void* arg;
};

class Pacer {
 public:
  Pacer(TxRing* ring, int fd, PathState* path, Stats* stats, PacerTuning tuning, PacerHooks hooks);
  ~Pacer();
  Pacer(const Pacer&) = delete;
  Pacer& operator=(const Pacer&) = delete;

  void start();
  /** Loop thread, after publishing a block: wakes the thread if it sleeps for lack of work. */
  void wake();
  /** Ask the thread to finish: drain = send what is queued (ignoring sendAt, bounded by drainMs), else drop it. */
  void stop(bool drain);
  void join();

 private:
  void run();
  void settle(uint32_t c);
  void advance(size_t items, uint32_t c);
  void publish();
  void waitForWork();
  void sleepUntil(int64_t t);
  bool waitWritable(int64_t deadline);
  uint64_t countQueued(uint32_t c);

  TxRing* ring_;
  int fd_;
  PathState* path_;
  Stats* stats_;
  PacerTuning tuning_;
  PacerHooks hooks_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> drain_{false};
  std::atomic<bool> stopNow_{false};
  std::atomic<int64_t> drainDeadline_{0};
  uint32_t cons_ = 0;
  uint32_t pos_ = 0;
  bool entered_ = false;
};

}  // namespace udt
