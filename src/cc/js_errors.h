// Errors thrown to JS with a stable `code` (ERR_UDT_ENGINE_*), plus errno details when a system call failed.
#pragma once

#include <cstring>
#include <string>

#include <napi.h>
#include <uv.h>

namespace udt {

inline Napi::Error makeError(Napi::Env env, const char* code, const std::string& message, const char* syscall = nullptr,
                             int err = 0) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  if (syscall) e.Set("syscall", Napi::String::New(env, syscall));
  if (err) {
    e.Set("errno", Napi::Number::New(env, -err));
    e.Set("sysCode", Napi::String::New(env, uv_err_name(-err)));
  }
  return e;
}

[[noreturn]] inline void throwError(Napi::Env env, const char* code, const std::string& message) {
  throw makeError(env, code, message);
}

}  // namespace udt
