// UdpEngine: options, socket and shared buffers, libuv handles, peers, stats, pause/resume and clean close.
#include "udp_engine.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "clock.h"
#include "js_errors.h"

namespace udt {

namespace {
constexpr int kFlagWritable = 1;
constexpr int kFlagExited = 2;
constexpr uint32_t kBlockCap = 64;
constexpr size_t kTxSlabTarget = 8u << 20;
constexpr uint32_t kMaxBlocks = 32;
constexpr uint32_t kRxSlot = 65536;  // any UDP datagram fits, as with node:dgram (only touched pages cost memory)
constexpr uint32_t kGroSlots = 32;
constexpr uint32_t kPlainSlots = 64;
constexpr uint32_t kGroMaxSegments = 64;

size_t align(size_t v, size_t a) { return (v + a - 1) / a * a; }

uint32_t optU32(const Napi::Object& o, const char* key, uint32_t def) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : def;
}
}  // namespace

Napi::Function UdpEngine::Init(Napi::Env env) {
  return DefineClass(env, "UdpEngine",
                     {
                         InstanceMethod<&UdpEngine::Info>("info"),
                         InstanceMethod<&UdpEngine::Buffers>("buffers"),
                         InstanceMethod<&UdpEngine::Commit>("commit"),
                         InstanceMethod<&UdpEngine::Peer>("peer"),
                         InstanceMethod<&UdpEngine::PeerAddress>("peerAddress"),
                         InstanceMethod<&UdpEngine::ReleasePeer>("releasePeer"),
                         InstanceMethod<&UdpEngine::GetStats>("stats"),
                         InstanceMethod<&UdpEngine::PauseReceive>("pauseReceive"),
                         InstanceMethod<&UdpEngine::ResumeReceive>("resumeReceive"),
                         InstanceMethod<&UdpEngine::SetRef>("setRef"),
                         InstanceMethod<&UdpEngine::Close>("close"),
                     });
}

UdpEngine::UdpEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpEngine>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throwError(env, "ERR_UDT_ENGINE_OPTIONS", "options object required");
  Napi::Object o = info[0].As<Napi::Object>();
  if (!o.Get("onReceive").IsFunction() || !o.Get("onWritable").IsFunction() || !o.Get("onError").IsFunction()) {
    throwError(env, "ERR_UDT_ENGINE_OPTIONS", "onReceive, onWritable and onError callbacks required");
  }
  SocketParams p;
  p.family = optU32(o, "family", 4) == 6 ? AF_INET6 : AF_INET;
  Napi::Value addr = o.Get("address");
  p.address = addr.IsString() ? addr.As<Napi::String>().Utf8Value() : "";
  p.port = static_cast<int>(optU32(o, "port", 0));
  p.ipv6Only = o.Get("ipv6Only").ToBoolean().Value();
  p.sndBuf = static_cast<int>(optU32(o, "sndBuf", 0));
  p.rcvBuf = static_cast<int>(optU32(o, "rcvBuf", 0));
  Napi::Value gro = o.Get("gro");
  p.wantGro = gro.ToBoolean().Value();
  path_.gsoLoopback = o.Get("gsoLoopback").ToBoolean().Value();
  maxDatagram_ = optU32(o, "maxDatagram", 1472);
  if (maxDatagram_ == 0 || maxDatagram_ > 65535) throwError(env, "ERR_UDT_ENGINE_OPTIONS", "maxDatagram out of range");
  tuning_.spinUs = optU32(o, "spinUs", static_cast<uint32_t>(tuning_.spinUs));
  tuning_.burstUs = optU32(o, "burstUs", static_cast<uint32_t>(tuning_.burstUs));
  tuning_.burstCapUs = optU32(o, "burstCapUs", static_cast<uint32_t>(tuning_.burstCapUs));
  tuning_.maxShiftUs = optU32(o, "maxShiftUs", static_cast<uint32_t>(tuning_.maxShiftUs));
  tuning_.drainMs = optU32(o, "drainMs", static_cast<uint32_t>(tuning_.drainMs));
  inlineMax_ = optU32(o, "inlineMax", inlineMax_);
  if (inlineMax_ > Sender::kMaxItems) inlineMax_ = Sender::kMaxItems;

  SocketError err;
  if (!openSocket(p, sock_, err)) {
    std::string msg = err.message;
    if (err.err) msg = std::string(err.syscall) + " " + uv_err_name(-err.err) + ": " + msg;
    throw makeError(env, err.code, msg, err.syscall, err.err);
  }
  family_ = p.family;
  v6only_ = p.ipv6Only;

  SendPath best = sock_.gsoAvailable ? SendPath::Gso : SendPath::Sendmmsg;
#ifndef __linux__
  best = SendPath::Sendmsg;
#endif
  Napi::Value sp = o.Get("sendPath");
  if (sp.IsString()) {
    std::string s = sp.As<Napi::String>().Utf8Value();
    SendPath want = s == "sendmsg" ? SendPath::Sendmsg : s == "sendmmsg" ? SendPath::Sendmmsg : SendPath::Gso;
    if (static_cast<int>(want) > static_cast<int>(best)) best = want;
  }
  path_.path.store(static_cast<int>(best));

  uint32_t blocks = optU32(o, "txBlocks", 0);
  if (blocks != 0 && (blocks < 2 || blocks > 1024 || (blocks & (blocks - 1)) != 0)) {
    throwError(env, "ERR_UDT_ENGINE_OPTIONS", "txBlocks must be a power of two in 2..1024");
  }
  try {
    setupRings(maxDatagram_, blocks);
  } catch (const std::bad_alloc&) {
    ::close(sock_.fd);
    throwError(env, "ERR_UDT_ENGINE_MEMORY", "cannot allocate engine buffers");
  }
  onReceive_ = Napi::Persistent(o.Get("onReceive").As<Napi::Function>());
  onWritable_ = Napi::Persistent(o.Get("onWritable").As<Napi::Function>());
  onError_ = Napi::Persistent(o.Get("onError").As<Napi::Function>());
  asyncContext_ = std::make_unique<Napi::AsyncContext>(env, "UdtEngine");
  receiver_ = std::make_unique<Receiver>(sock_.fd, rxSlab_->data(), rxSlot_, rxSlots_, sock_.groEnabled, sock_.rxTimestamps);
  inlineSender_ = std::make_unique<Sender>(sock_.fd, &path_, &stats_);
  pacer_ = std::make_unique<Pacer>(&ring_, sock_.fd, &path_, &stats_, tuning_,
                                   PacerHooks{&UdpEngine::hookWritable, &UdpEngine::hookExited, this});
  startHandles();
  pacer_->start();
  Ref();
}

UdpEngine::~UdpEngine() {
  if (pacer_) {
    pacer_->stop(false);
    pacer_->join();
  }
  if (handles_) handles_->owner = nullptr;
  if (state_ != State::Closed && sock_.fd >= 0 && !handlesClosing_) {
    ::close(sock_.fd);
  }
}

void UdpEngine::setupRings(uint32_t maxDatagram, uint32_t blocks) {
  uint32_t stride = static_cast<uint32_t>(align(maxDatagram, 64));
  uint32_t nblocks = 2;
  while (nblocks < kMaxBlocks && static_cast<size_t>(nblocks) * 2 * kBlockCap * stride <= kTxSlabTarget) nblocks *= 2;
  if (blocks) nblocks = blocks;
  ring_.nblocks = nblocks;
  ring_.blockCap = kBlockCap;
  ring_.stride = stride;
  uint32_t slots = nblocks * kBlockCap;
  txSlab_ = std::make_shared<Region>(static_cast<size_t>(slots) * stride);
  ring_.data = txSlab_->data();
  ring_.slots.resize(slots);
  ring_.blocks.resize(nblocks);

  rxSlot_ = kRxSlot;
  if (sock_.groEnabled) {
    rxSlots_ = kGroSlots;
    rxEntries_ = kGroSlots * kGroMaxSegments;
  } else {
    rxSlots_ = kPlainSlots;
    rxEntries_ = kPlainSlots;
  }
  rxSlab_ = std::make_shared<Region>(static_cast<size_t>(rxSlot_) * rxSlots_);

  size_t off = 64;
  metaTxLen_ = off;
  off += align(slots * 4, 8);
  metaTxPeer_ = off;
  off += align(slots * 4, 8);
  metaTxSendAt_ = off;
  off += static_cast<size_t>(slots) * 8;
  metaRxOff_ = off;
  off += align(rxEntries_ * 4, 8);
  metaRxLen_ = off;
  off += align(rxEntries_ * 4, 8);
  metaRxPeer_ = off;
  off += align(rxEntries_ * 4, 8);
  metaRxTime_ = off;
  off += static_cast<size_t>(rxEntries_) * 8;
  meta_ = std::make_shared<Region>(off);
  uint8_t* m = meta_->data();
  ring_.ctl = new (m) TxCtl{};
  ring_.ctl->consumed.store(0);
  ring_.ctl->wantWritable.store(0);
  ring_.jsLen = reinterpret_cast<int32_t*>(m + metaTxLen_);
  ring_.jsPeer = reinterpret_cast<int32_t*>(m + metaTxPeer_);
  ring_.jsSendAt = reinterpret_cast<double*>(m + metaTxSendAt_);
  rxOff_ = reinterpret_cast<int32_t*>(m + metaRxOff_);
  rxLen_ = reinterpret_cast<int32_t*>(m + metaRxLen_);
  rxPeer_ = reinterpret_cast<int32_t*>(m + metaRxPeer_);
  rxTime_ = reinterpret_cast<double*>(m + metaRxTime_);
}

void UdpEngine::startHandles() {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env_, &loop);
  handles_ = new Handles();
  handles_->owner = this;
  uv_poll_init(loop, &handles_->poll, sock_.fd);
  handles_->poll.data = handles_;
  uv_async_init(loop, &handles_->async, [](uv_async_t* a) {
    auto* h = static_cast<Handles*>(a->data);
    if (h->owner) h->owner->onAsync();
  });
  handles_->async.data = handles_;
  handles_->open = 2;
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->poll));
  uv_poll_start(&handles_->poll, UV_READABLE, [](uv_poll_t* p, int status, int) {
    auto* h = static_cast<Handles*>(p->data);
    if (h->owner) h->owner->onReadable(status);
  });
  napi_add_async_cleanup_hook(env_, &UdpEngine::onEnvCleanup, this, &cleanupHook_);
}

void UdpEngine::hookWritable(void* arg) {
  auto* self = static_cast<UdpEngine*>(arg);
  self->asyncFlags_.fetch_or(kFlagWritable);
  uv_async_send(&self->handles_->async);
}

void UdpEngine::hookExited(void* arg) {
  auto* self = static_cast<UdpEngine*>(arg);
  self->asyncFlags_.fetch_or(kFlagExited);
  uv_async_send(&self->handles_->async);
}

void UdpEngine::callJs(Napi::FunctionReference& fn, std::initializer_list<napi_value> args) {
  Napi::HandleScope scope(env_);
  try {
    fn.MakeCallback(Value(), args, *asyncContext_);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env_, e.Value());
  }
}

void UdpEngine::emitError(const char* code, const char* syscall, int err) {
  Napi::HandleScope scope(env_);
  Napi::Error e = makeError(env_, code, std::string(syscall) + " " + uv_err_name(-err), syscall, err);
  callJs(onError_, {e.Value()});
}

void UdpEngine::onAsync() {
  int f = asyncFlags_.exchange(0);
  if ((f & kFlagWritable) && state_ == State::Open) callJs(onWritable_, {});
  if ((f & kFlagExited) && !tearingDown_) {
    pacer_->join();
    beginHandleClose();
  }
}

void UdpEngine::beginHandleClose() {
  if (handlesClosing_) return;
  handlesClosing_ = true;
  uv_poll_stop(&handles_->poll);
  auto onClose = [](uv_handle_t* hd) {
    auto* h = static_cast<Handles*>(hd->data);
    if (--h->open > 0) return;
    UdpEngine* owner = h->owner;
    delete h;
    if (owner) {
      owner->handles_ = nullptr;
      owner->onHandlesClosed();
    }
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&handles_->poll), onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&handles_->async), onClose);
}

void UdpEngine::onHandlesClosed() {
  ::close(sock_.fd);
  sock_.fd = -1;
  state_ = State::Closed;
  napi_remove_async_cleanup_hook(cleanupHook_);
  cleanupHook_ = nullptr;
  if (tearingDown_) return;
  if (!onClosed_.IsEmpty()) callJs(onClosed_, {});
  onReceive_.Reset();
  onWritable_.Reset();
  onError_.Reset();
  onClosed_.Reset();
  Unref();
}

void UdpEngine::onEnvCleanup(napi_async_cleanup_hook_handle, void* arg) {
  auto* self = static_cast<UdpEngine*>(arg);
  self->tearingDown_ = true;
  self->state_ = State::Closing;
  self->pacer_->stop(false);
  self->pacer_->join();
  self->beginHandleClose();
}

Napi::Value UdpEngine::Close(const Napi::CallbackInfo& info) {
  if (state_ != State::Open) throwError(info.Env(), "ERR_UDT_ENGINE_CLOSED", "engine already closed");
  if (info.Length() > 0 && info[0].IsFunction()) onClosed_ = Napi::Persistent(info[0].As<Napi::Function>());
  bool drop = info.Length() > 1 && info[1].ToBoolean().Value();
  state_ = State::Closing;
  uv_poll_stop(&handles_->poll);
  receiving_ = false;
  pacer_->stop(!drop);
  return info.Env().Undefined();
}

Napi::Value UdpEngine::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  int port = 0;
  o.Set("address", formatAddr(sock_.bound, &port));
  o.Set("port", port);
  o.Set("family", family_ == AF_INET6 ? "IPv6" : "IPv4");
  o.Set("sndBufGranted", sock_.sndBufGranted);
  o.Set("rcvBufGranted", sock_.rcvBufGranted);
  o.Set("gso", sock_.gsoAvailable);
  o.Set("gro", sock_.groEnabled);
  o.Set("blocks", ring_.nblocks);
  o.Set("blockCap", ring_.blockCap);
  o.Set("stride", ring_.stride);
  o.Set("rxEntries", rxEntries_);
  o.Set("metaTxLen", static_cast<double>(metaTxLen_));
  o.Set("metaTxPeer", static_cast<double>(metaTxPeer_));
  o.Set("metaTxSendAt", static_cast<double>(metaTxSendAt_));
  o.Set("metaRxOff", static_cast<double>(metaRxOff_));
  o.Set("metaRxLen", static_cast<double>(metaRxLen_));
  o.Set("metaRxPeer", static_cast<double>(metaRxPeer_));
  o.Set("metaRxTime", static_cast<double>(metaRxTime_));
  o.Set("rxTimestamps", sock_.rxTimestamps);
  return o;
}

static Napi::ArrayBuffer exportRegion(Napi::Env env, const RegionPtr& r) {
  auto* hold = new RegionPtr(r);
  return Napi::ArrayBuffer::New(
      env, r->data(), r->size(), [](Napi::Env, void*, RegionPtr* h) { delete h; }, hold);
}

Napi::Value UdpEngine::Buffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (buffersTaken_) throwError(env, "ERR_UDT_ENGINE_STATE", "buffers() may be called once");
  buffersTaken_ = true;
  Napi::Object o = Napi::Object::New(env);
  o.Set("tx", exportRegion(env, txSlab_));
  o.Set("rx", exportRegion(env, rxSlab_));
  o.Set("meta", exportRegion(env, meta_));
  return o;
}

Napi::Value UdpEngine::Peer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
    throwError(env, "ERR_UDT_ENGINE_ADDRESS", "peer(address: string, port: number)");
  }
  Addr a;
  std::string err;
  int port = info[1].As<Napi::Number>().Int32Value();
  if (port < 1 || !parseAddr(family_, v6only_, info[0].As<Napi::String>().Utf8Value(), port, a, err)) {
    throwError(env, "ERR_UDT_ENGINE_ADDRESS", port < 1 ? "port out of range" : err);
  }
  return Napi::Number::New(env, peers_.intern(a));
}

Napi::Value UdpEngine::PeerAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Addr* a = peers_.get(info[0].As<Napi::Number>().Int32Value());
  if (!a) throwError(env, "ERR_UDT_ENGINE_PEER", "unknown peer handle");
  int port = 0;
  Napi::Array r = Napi::Array::New(env, 3);
  r.Set(0u, formatAddr(*a, &port));
  r.Set(1u, port);
  r.Set(2u, family_ == AF_INET6 ? "IPv6" : "IPv4");
  return r;
}

Napi::Value UdpEngine::ReleasePeer(const Napi::CallbackInfo& info) {
  int h = info[0].As<Napi::Number>().Int32Value();
  if (h == lastPeer_) lastPeer_ = -1;
  return Napi::Boolean::New(info.Env(), peers_.release(h));
}

Napi::Value UdpEngine::GetStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, const std::atomic<uint64_t>& v) {
    o.Set(k, static_cast<double>(v.load(std::memory_order_relaxed)));
  };
  o.Set("sendPath", sendPathName(path_.get()));
  set("datagramsSent", stats_.datagramsSent);
  set("bytesSent", stats_.bytesSent);
  set("sendCalls", stats_.sendCalls);
  set("sendErrors", stats_.sendErrors);
  set("sendWouldBlock", stats_.sendWouldBlock);
  set("gsoCalls", stats_.gsoCalls);
  set("inlineSent", stats_.inlineSent);
  set("pacedCount", stats_.pacedCount);
  set("pacedLateSumUs", stats_.pacedLateSumUs);
  set("pacedLateMaxUs", stats_.pacedLateMaxUs);
  set("paceShiftMaxUs", stats_.paceShiftMaxUs);
  set("droppedOnClose", stats_.droppedOnClose);
  set("datagramsReceived", stats_.datagramsReceived);
  set("bytesReceived", stats_.bytesReceived);
  set("recvCalls", stats_.recvCalls);
  set("recvErrors", stats_.recvErrors);
  set("recvTruncated", stats_.recvTruncated);
  set("groSegmented", stats_.groSegmented);
  int e = stats_.lastSendErrno.load(std::memory_order_relaxed);
  o.Set("lastSendError", e ? Napi::Value(Napi::String::New(env, uv_err_name(-e))) : env.Null());
  o.Set("peers", static_cast<double>(peers_.size()));
  return o;
}

Napi::Value UdpEngine::PauseReceive(const Napi::CallbackInfo& info) {
  if (state_ == State::Open && receiving_) {
    receiving_ = false;
    uv_poll_stop(&handles_->poll);
  }
  return info.Env().Undefined();
}

Napi::Value UdpEngine::ResumeReceive(const Napi::CallbackInfo& info) {
  if (state_ == State::Open && !receiving_) {
    receiving_ = true;
    uv_poll_start(&handles_->poll, UV_READABLE, [](uv_poll_t* p, int status, int) {
      auto* h = static_cast<Handles*>(p->data);
      if (h->owner) h->owner->onReadable(status);
    });
  }
  return info.Env().Undefined();
}

Napi::Value UdpEngine::SetRef(const Napi::CallbackInfo& info) {
  if (handles_ && !handlesClosing_) {
    if (info[0].ToBoolean().Value()) {
      uv_ref(reinterpret_cast<uv_handle_t*>(&handles_->async));
    } else {
      uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->async));
    }
  }
  return info.Env().Undefined();
}

}  // namespace udt
