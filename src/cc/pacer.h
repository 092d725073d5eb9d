// The pacing thread: sends committed datagrams at their sendAt (sleep, then spin the last stretch), batching what is
// due together. Order is stable by due time: due datagrams go in commit order and never wait behind later ones.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "batch_io.h"
#include "stats.h"
#include "tx_ring.h"

namespace udt {

struct PacerTuning {
  int64_t spinUs = 20;       // sleep until this close to a deadline, then spin
  int64_t burstUs = 40;      // once a datagram is due, datagrams due within this much later go with it (one GSO run)
  int64_t burstCapUs = 100;  // lateness sent as a burst; beyond it the whole schedule shifts later instead...
  int64_t maxShiftUs = 1000;  // ...by at most this much (a backlog must not become added delay for everything)
  int64_t catchUpDiv = 4;     // a shifted schedule catches up by 1/catchUpDiv of the time that passes
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
  /** Loop thread, after publishing a block whose earliest due time is `minDue`: wakes the thread if it must look. */
  void wake(int64_t minDue);
  /** Ask the thread to finish: drain = send what is queued (ignoring sendAt, bounded by drainMs), else drop it. */
  void stop(bool drain);
  void join();

 private:
  struct Scan {
    size_t n;         // due items gathered
    int64_t nextDue;  // earliest due time among what stays queued (INT64_MAX when nothing)
  };

  void run();
  void settle(uint32_t c);
  void publish();
  Scan gather(uint32_t c, int64_t now, bool drain);
  void capBurst(Scan& scan, int64_t now);
  void account(const SendOutcome& o, size_t n, int64_t sentAt);
  void sleepUntil(int64_t t, uint32_t c);
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
  std::atomic<int64_t> wakeTarget_{INT64_MAX};
  std::atomic<bool> drain_{false};
  std::atomic<bool> stopNow_{false};
  std::atomic<int64_t> drainDeadline_{0};
  uint32_t cons_ = 0;
  uint32_t pos_ = 0;
  bool entered_ = false;
  int64_t shift_ = 0;  // µs the schedule runs behind sendAt after a stall (decays)
  std::vector<TxItem> items_;
  std::vector<TxSlot*> itemSlots_;
  std::vector<TxBlock*> itemBlocks_;
};

}  // namespace udt
