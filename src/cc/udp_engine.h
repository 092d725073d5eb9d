// UdpEngine, the addon's JS class: one UDP socket; receive on the libuv loop (uv_poll + recvmmsg/GRO, one JS call per
// batch), send through shared-memory blocks handed to the pacing thread (or sent inline when it is idle).
#pragma once

#include <atomic>
#include <memory>

#include <napi.h>
#include <uv.h>

#include "batch_io.h"
#include "pacer.h"
#include "peer_table.h"
#include "region.h"
#include "socket_setup.h"
#include "stats.h"
#include "tx_ring.h"

namespace udt {

class UdpEngine : public Napi::ObjectWrap<UdpEngine> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit UdpEngine(const Napi::CallbackInfo& info);
  ~UdpEngine() override;

 private:
  enum class State { Open, Closing, Closed };
  struct Handles {
    uv_poll_t poll;
    uv_async_t async;
    UdpEngine* owner = nullptr;
    int open = 0;
  };

  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Buffers(const Napi::CallbackInfo& info);
  Napi::Value Commit(const Napi::CallbackInfo& info);
  Napi::Value Peer(const Napi::CallbackInfo& info);
  Napi::Value PeerAddress(const Napi::CallbackInfo& info);
  Napi::Value ReleasePeer(const Napi::CallbackInfo& info);
  Napi::Value GetStats(const Napi::CallbackInfo& info);
  Napi::Value PauseReceive(const Napi::CallbackInfo& info);
  Napi::Value ResumeReceive(const Napi::CallbackInfo& info);
  Napi::Value SetRef(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void setupRings(uint32_t maxDatagram, uint32_t blocks);
  void startHandles();
  uint32_t sendInline(uint32_t block, uint32_t count, int64_t now);
  void onReadable(int status);
  void deliver(uint32_t entries, double now);
  int peerOf(const Addr& a);
  void onAsync();
  void beginHandleClose();
  void onHandlesClosed();
  void callJs(Napi::FunctionReference& fn, std::initializer_list<napi_value> args);
  void emitError(const char* code, const char* syscall, int err);

  static void hookWritable(void* arg);
  static void hookExited(void* arg);
  static void onEnvCleanup(napi_async_cleanup_hook_handle handle, void* arg);

  Napi::Env env_;
  State state_ = State::Open;
  bool tearingDown_ = false;
  bool handlesClosing_ = false;
  bool receiving_ = true;
  bool buffersTaken_ = false;
  SocketInfo sock_;
  int family_ = 0;
  bool v6only_ = false;
  uint32_t maxDatagram_ = 0;
  PeerTable peers_;
  Addr lastFrom_{};
  int lastPeer_ = -1;
  Stats stats_;
  PathState path_;
  PacerTuning tuning_;
  uint32_t inlineMax_ = 16;
  RegionPtr txSlab_;
  RegionPtr rxSlab_;
  RegionPtr meta_;
  TxRing ring_;
  uint32_t rxSlot_ = 0;
  uint32_t rxSlots_ = 0;
  uint32_t rxEntries_ = 0;
  size_t metaTxLen_ = 0, metaTxPeer_ = 0, metaTxSendAt_ = 0, metaRxOff_ = 0, metaRxLen_ = 0, metaRxPeer_ = 0, metaRxTime_ = 0;
  int32_t* rxOff_ = nullptr;
  int32_t* rxLen_ = nullptr;
  int32_t* rxPeer_ = nullptr;
  double* rxTime_ = nullptr;
  std::unique_ptr<Receiver> receiver_;
  std::unique_ptr<Sender> inlineSender_;
  std::unique_ptr<Pacer> pacer_;
  std::atomic<int> asyncFlags_{0};
  Handles* handles_ = nullptr;
  napi_async_cleanup_hook_handle cleanupHook_ = nullptr;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
  Napi::FunctionReference onReceive_;
  Napi::FunctionReference onWritable_;
  Napi::FunctionReference onError_;
  Napi::FunctionReference onClosed_;
};

}  // namespace udt
