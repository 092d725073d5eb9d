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

/** CLOCK_REALTIME minus CLOCK_MONOTONIC in ns, to turn kernel (realtime) packet timestamps into monotonic time. */
inline int64_t realtimeOffsetNs() {
  timespec m0, r, m1;
  clock_gettime(CLOCK_MONOTONIC, &m0);
  clock_gettime(CLOCK_REALTIME, &r);
  clock_gettime(CLOCK_MONOTONIC, &m1);
  int64_t mono = (static_cast<int64_t>(m0.tv_sec) + m1.tv_sec) * 500000000 + (static_cast<int64_t>(m0.tv_nsec) + m1.tv_nsec) / 2;
  return static_cast<int64_t>(r.tv_sec) * 1000000000 + r.tv_nsec - mono;
}

}  // namespace udt
