// Addon entry point: exports the UdpEngine class, the monotonic clock and what this build supports.
#include <napi.h>

#include "clock.h"
#include "udp_engine.h"

namespace {

Napi::Value NowUs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), udt::monoUsFrac()); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("UdpEngine", udt::UdpEngine::Init(env));
  exports.Set("nowUs", Napi::Function::New<NowUs>(env, "nowUs"));
#ifdef __linux__
  exports.Set("platformBatching", Napi::Boolean::New(env, true));
#else
  exports.Set("platformBatching", Napi::Boolean::New(env, false));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(udt_native, Init)
