// Monotonic microsecond clock (CLOCK_MONOTONIC), the same origin as the JS nowUs() in src/ts/endpoint/clock.ts.
#pragma once

#include <cstdint>
#include <ctime>

namespace udt {

inline int64_t monoUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

inline double monoUsFrac() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

}  // namespace udt
