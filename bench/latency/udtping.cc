// udtping: libudt 4.11 request/response latency client (connects to `udtpeer listen --echo`), for bench/latency/rtt.ts.
// Usage: udtping HOST PORT TRIPS WARMUP SIZE MAX_SECONDS
// Prints one JSON line: {"cpuUs":N,"rttsUs":[...]} (CPU time and the timed round trips after the warm-up), or {"error":"..."},
// then keeps the connection until its stdin closes.
#include <udt/udt.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int fail(const std::string& what) {
  std::printf("{\"error\":\"%s: %s\"}\n", what.c_str(), UDT::getlasterror().getErrorMessage());
  return 1;
}

// Sends all of buf, then reads until the same number of bytes came back.
bool roundTrip(UDTSOCKET s, const char* out, char* in, int size) {
  for (int sent = 0; sent < size;) {
    const int n = UDT::send(s, out + sent, size - sent, 0);
    if (n == UDT::ERROR) return false;
    sent += n;
  }
  for (int got = 0; got < size;) {
    const int n = UDT::recv(s, in + got, size - got, 0);
    if (n == UDT::ERROR || n == 0) return false;
    got += n;
  }
  return true;
}

long cpuUs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000L + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: udtping HOST PORT TRIPS WARMUP SIZE MAX_SECONDS\n");
    return 2;
  }
  const char* host = argv[1];
  const int port = std::atoi(argv[2]);
  const long trips = std::atol(argv[3]);
  const long warmup = std::atol(argv[4]);
  const int size = std::atoi(argv[5]);
  const double maxSeconds = std::atof(argv[6]);
  if (port <= 0 || trips <= 0 || warmup < 0 || size <= 0 || maxSeconds <= 0) {
    std::fprintf(stderr, "udtping: bad arguments\n");
    return 2;
  }

  UDT::startup();
  UDTSOCKET s = UDT::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    std::fprintf(stderr, "udtping: HOST must be a numeric IPv4 address\n");
    return 2;
  }
  if (UDT::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == UDT::ERROR) return fail("connect");

  std::vector<char> out(size, 7), in(size);
  std::vector<long> rtts;
  rtts.reserve(trips);
  long cpu0 = cpuUs();
  const auto start = std::chrono::steady_clock::now();
  const auto limit = start + std::chrono::duration<double>(maxSeconds);
  for (long i = 0; i < warmup + trips; i++) {
    const auto t0 = std::chrono::steady_clock::now();
    if (t0 > limit) break;
    if (!roundTrip(s, out.data(), in.data(), size)) return fail("round trip");
    const auto t1 = std::chrono::steady_clock::now();
    if (i + 1 == warmup) cpu0 = cpuUs();
    if (i >= warmup) rtts.push_back(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count());
  }

  std::string line = "{\"cpuUs\":" + std::to_string(cpuUs() - cpu0) + ",\"rttsUs\":[";
  for (size_t i = 0; i < rtts.size(); i++) {
    if (i) line += ',';
    line += std::to_string(rtts[i]);
  }
  line += "]}\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  // Stay connected until stdin closes, so the harness can read the echo server's CPU time while it still runs.
  for (int c; (c = std::getchar()) != EOF;) {
  }
  UDT::close(s);
  UDT::cleanup();
  return 0;
}
