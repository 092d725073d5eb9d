// UdpEngine's data path: batches received with recvmmsg handed to JS, committed blocks sent inline or queued for the pacer.
#include <cerrno>
#include <cmath>

#include "clock.h"
#include "js_errors.h"
#include "udp_engine.h"

namespace udt {

namespace {
constexpr int kRecvRounds = 8;
constexpr uint32_t kRecvBudget = 256;  // datagrams per readable event before yielding to the loop (timers, flushes)

bool transientRecvError(int e) {
  return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == ENOMEM || e == ENOBUFS || e == EPERM ||
         e == EINTR || e == ECONNRESET;
}
}  // namespace

int UdpEngine::peerOf(const Addr& a) {
  if (lastPeer_ >= 0 && a == lastFrom_) return lastPeer_;
  lastPeer_ = peers_.intern(a);
  lastFrom_ = a;
  return lastPeer_;
}

void UdpEngine::deliver(uint32_t entries, double now) {
  Napi::HandleScope scope(env_);
  callJs(onReceive_, {Napi::Number::New(env_, entries), Napi::Number::New(env_, now)});
}

void UdpEngine::onReadable(int status) {
  if (state_ != State::Open || !receiving_) return;
  if (status < 0) {
    Stats::add(stats_.recvErrors, 1);
    return;
  }
  uint32_t delivered = 0;
  for (int round = 0; round < kRecvRounds && delivered < kRecvBudget; round++) {
    int n = receiver_->receive();
    Stats::add(stats_.recvCalls, 1);
    if (n < 0) {
      Stats::add(stats_.recvErrors, 1);
      if (transientRecvError(-n)) continue;
      uv_poll_stop(&handles_->poll);
      receiving_ = false;
      emitError("ERR_UDT_ENGINE_RECV", "recvmmsg", -n);
      return;
    }
    if (n == 0) break;
    double now = monoUsFrac();
    int64_t rtOffset = sock_.rxTimestamps ? realtimeOffsetNs() : 0;
    uint32_t e = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++) {
      const RxMsg& m = receiver_->msg(i);
      if (m.truncated) {
        Stats::add(stats_.recvTruncated, 1);
        continue;
      }
      int peer = peerOf(*m.from);
      double at = m.rtNs ? static_cast<double>(m.rtNs - rtOffset) / 1e3 : now;
      if (at > now) at = now;
      uint32_t seg = m.segSize && m.len > m.segSize ? m.segSize : m.len;
      uint32_t off = 0;
      do {
        if (e == rxEntries_) {
          Stats::add(stats_.datagramsReceived, e);
          deliver(e, now);
          e = 0;
          if (state_ != State::Open) return;
        }
        uint32_t len = m.len - off < seg ? m.len - off : seg;
        rxOff_[e] = static_cast<int32_t>(m.offset + off);
        rxLen_[e] = static_cast<int32_t>(len);
        rxPeer_[e] = peer;
        rxTime_[e] = at;
        e++;
        off += len;
      } while (off < m.len);
      if (seg < m.len) Stats::add(stats_.groSegmented, 1);
      bytes += m.len;
    }
    Stats::add(stats_.bytesReceived, bytes);
    if (e) {
      Stats::add(stats_.datagramsReceived, e);
      deliver(e, now);
    }
    delivered += e;
    if (state_ != State::Open || !receiving_) return;
    if (static_cast<uint32_t>(n) < rxSlots_) break;
  }
}

uint32_t UdpEngine::sendInline(uint32_t block, uint32_t count, int64_t now) {
  TxItem items[Sender::kMaxItems];
  TxSlot* sent[Sender::kMaxItems];
  uint32_t n = 0;
  for (uint32_t i = 0; i < count && n < inlineMax_; i++) {
    TxSlot& s = ring_.slot(block, i);
    if (s.len == TxSlot::kSkip || s.due > now + tuning_.earlyUs) continue;
    items[n] = TxItem{ring_.payload(block, i), s.len, &s.addr};
    sent[n] = &s;
    n++;
  }
  if (n == 0) return 0;
  SendOutcome o = inlineSender_->send(items, n);
  for (size_t k = 0; k < o.done; k++) sent[k]->len = TxSlot::kSkip;
  Stats::add(stats_.inlineSent, o.done);
  return static_cast<uint32_t>(o.done);
}

Napi::Value UdpEngine::Commit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Open) throwError(env, "ERR_UDT_ENGINE_CLOSED", "engine closed");
  uint32_t count = info[0].As<Napi::Number>().Uint32Value();
  uint32_t com = ring_.committed.load(std::memory_order_relaxed);
  uint32_t cons = ring_.consumed();
  if (com - cons >= ring_.nblocks) throwError(env, "ERR_UDT_ENGINE_TX", "txCommit without a reserved batch");
  if (count == 0 || count > ring_.blockCap) throwError(env, "ERR_UDT_ENGINE_TX", "batch count out of range");
  uint32_t b = ring_.blockOf(com);
  size_t base = static_cast<size_t>(b) * ring_.blockCap;
  uint32_t valid = 0;
  int64_t now = monoUs();
  for (uint32_t i = 0; i < count; i++) {
    TxSlot& s = ring_.slots[base + i];
    int32_t len = ring_.jsLen[base + i];
    const Addr* a = peers_.get(ring_.jsPeer[base + i]);
    if (len < 0 || static_cast<uint32_t>(len) > ring_.stride || !a) {
      s.len = TxSlot::kSkip;
      Stats::add(stats_.sendErrors, 1);
      continue;
    }
    s.len = static_cast<uint32_t>(len);
    s.addr = *a;
    double at = ring_.jsSendAt[base + i];
    s.due = at > 0 && std::isfinite(at) ? static_cast<int64_t>(std::ceil(at)) : now;
    valid++;
  }
  if (valid == 0) return Napi::Number::New(env, com);
  if (com == cons && inlineMax_ > 0 && sendInline(com, count, now) == valid) return Napi::Number::New(env, com);
  uint32_t start = 0;
  while (ring_.slots[base + start].len == TxSlot::kSkip) start++;
  int64_t minDue = INT64_MAX;
  for (uint32_t i = start; i < count; i++) {
    const TxSlot& s = ring_.slots[base + i];
    if (s.len != TxSlot::kSkip && s.due < minDue) minDue = s.due;
  }
  ring_.blocks[b] = TxBlock{start, count, minDue};
  ring_.committed.store(com + 1, std::memory_order_seq_cst);
  pacer_->wake(minDue);
  return Napi::Number::New(env, com + 1);
}

}  // namespace udt
