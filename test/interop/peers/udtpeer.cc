// udtpeer: a flag-driven libudt 4.11 peer for interop tests and benchmarks, reporting JSON lines on stdout.
//
// Usage: udtpeer listen  --port P [--host ADDR] [--count N] [options] [direction]
//        udtpeer connect --host H --port P [--local-port LP] [--rendezvous] [--count N] [options] [direction]
// Run `udtpeer --help` for the flags. Exit codes: 0 clean, 1 error, 2 usage, 3 broken, 4 --max-time exceeded.

#include <udt/udt.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

const char* const kUsage = R"(udtpeer - libudt 4.11 test peer speaking JSON lines on stdout

roles:
  listen  --port P [--host ADDR] [--count N]      bind, listen, accept N connections (concurrently)
  connect --host H --port P [--count N]           connect N sockets (concurrently)
          [--local-port LP] [--rendezvous]        bind first; rendezvous needs --local-port (0 = any)
  --port - (connect) reads the peer port as one line from stdin after binding (for rendezvous set-up)

socket options (set before bind/connect; accepted sockets inherit them):
  --dgram            SOCK_DGRAM message mode (default SOCK_STREAM)
  --ipv6             use AF_INET6 even for a host name (a literal like ::1 selects it anyway)
  --mss N            UDT_MSS             --fc PKTS        UDT_FC
  --rcvbuf BYTES     UDT_RCVBUF          --sndbuf BYTES   UDT_SNDBUF
  --udp-rcvbuf BYTES UDP_RCVBUF          --udp-sndbuf BYTES UDP_SNDBUF
  --maxbw BYTES_PER_S UDT_MAXBW          --linger SEC     UDT_LINGER (also bounds the final flush wait)

direction (independent of role; a send source and a receive sink may be combined for duplex):
  --send FILE        stream: the whole file; dgram: messages stored as 4-byte big-endian length + bytes
  --send-bytes N     N pseudo-random bytes (dgram: messages of --msg-size bytes, default 1456)
  --seed S           seed for --send-bytes (default 1)
  --ttl MS           sendmsg TTL (default -1 = none)   --inorder 0|1   sendmsg in-order flag (default 1)
  --recv FILE        stream: bytes until the peer closes; dgram: each message as 4-byte BE length + bytes
                     (with --count > 1 the connection index is appended: FILE.0, FILE.1, ...)
  --discard          receive and count only
  --echo             send back everything received (dgram: each message)
  --expect-bytes N   the receive is complete after N bytes   --expect-msgs N   ... after N messages
  --max-msg BYTES    receive buffer for one message (default 16777216)

ending:
  --close-wait MS    after our own work is complete, wait up to MS for the peer to close first (default 1000)
  --hold-ms MS       keep the connection open MS after the work is done (-1: until the peer closes)
  --perf-interval MS print {"event":"perf",...} every MS (perfmon with clear=true, so local fields are per interval)
  --max-time SEC     give up after SEC seconds: print an error event and exit 4

events: listening, bound, connected, perf, done, broken, error (one JSON object per line)
)";

using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitBroken = 3;
constexpr int kExitMaxTime = 4;
constexpr int kConnLost = 2001;
constexpr int kNoConn = 2002;
constexpr int kChunk = 1 << 20;
constexpr int64_t kDeathSilenceMs = 5000;
constexpr int64_t kReceiveSnapshotMs = 20;

struct Options {
  std::string role;
  std::string host;
  std::string port;
  std::optional<int> localPort;
  int count = 1;
  bool dgram = false;
  bool ipv6 = false;
  bool rendezvous = false;
  std::optional<int> mss, fc, rcvbuf, sndbuf, udpRcvbuf, udpSndbuf, lingerSec;
  std::optional<int64_t> maxbw;
  std::string sendFile;
  std::optional<int64_t> sendBytes;
  uint64_t seed = 1;
  int msgSize = 1456;
  int ttl = -1;
  bool inorder = true;
  std::string recvFile;
  bool discard = false;
  bool echo = false;
  std::optional<int64_t> expectBytes, expectMsgs;
  int maxMsg = 16 << 20;
  int closeWaitMs = 1000;
  int holdMs = 0;
  int perfIntervalMs = 0;
  double maxTimeSec = 0;

  bool sends() const { return !sendFile.empty() || sendBytes.has_value(); }
  bool receives() const { return !recvFile.empty() || discard; }
  bool hasExpectation() const { return expectBytes.has_value() || expectMsgs.has_value(); }
};

// ---------- output ----------

std::mutex g_outMu;

void emitLine(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_outMu);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

class Json {
 public:
  Json& num(const char* key, int64_t v) { return raw(key, std::to_string(v)); }
  Json& real(const char* key, double v) {
    if (!std::isfinite(v)) return raw(key, "null");
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.15g", v);
    return raw(key, buf);
  }
  Json& str(const char* key, const std::string& v) { return raw(key, jsonString(v)); }
  Json& boolean(const char* key, bool v) { return raw(key, v ? "true" : "false"); }
  Json& raw(const char* key, const std::string& json) {
    body_ += body_.empty() ? "" : ",";
    body_ += jsonString(key) + ":" + json;
    return *this;
  }
  Json& merge(const Json& other) {
    if (!other.body_.empty()) body_ += (body_.empty() ? "" : ",") + other.body_;
    return *this;
  }
  std::string text() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

Json event(const char* name) { return Json().str("event", name); }

std::string perfJson(const UDT::TRACEINFO& p) {
  return Json()
      .num("msTimeStamp", p.msTimeStamp)
      .num("pktSentTotal", p.pktSentTotal)
      .num("pktRecvTotal", p.pktRecvTotal)
      .num("pktSndLossTotal", p.pktSndLossTotal)
      .num("pktRcvLossTotal", p.pktRcvLossTotal)
      .num("pktRetransTotal", p.pktRetransTotal)
      .num("pktSentACKTotal", p.pktSentACKTotal)
      .num("pktRecvACKTotal", p.pktRecvACKTotal)
      .num("pktSentNAKTotal", p.pktSentNAKTotal)
      .num("pktRecvNAKTotal", p.pktRecvNAKTotal)
      .num("usSndDurationTotal", p.usSndDurationTotal)
      .num("pktSent", p.pktSent)
      .num("pktRecv", p.pktRecv)
      .num("pktSndLoss", p.pktSndLoss)
      .num("pktRcvLoss", p.pktRcvLoss)
      .num("pktRetrans", p.pktRetrans)
      .num("pktSentACK", p.pktSentACK)
      .num("pktRecvACK", p.pktRecvACK)
      .num("pktSentNAK", p.pktSentNAK)
      .num("pktRecvNAK", p.pktRecvNAK)
      .real("mbpsSendRate", p.mbpsSendRate)
      .real("mbpsRecvRate", p.mbpsRecvRate)
      .num("usSndDuration", p.usSndDuration)
      .real("usPktSndPeriod", p.usPktSndPeriod)
      .num("pktFlowWindow", p.pktFlowWindow)
      .num("pktCongestionWindow", p.pktCongestionWindow)
      .num("pktFlightSize", p.pktFlightSize)
      .real("msRTT", p.msRTT)
      .real("mbpsBandwidth", p.mbpsBandwidth)
      .num("byteAvailSndBuf", p.byteAvailSndBuf)
      .num("byteAvailRcvBuf", p.byteAvailRcvBuf)
      .text();
}

std::string rusageJson() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& tv) { return static_cast<int64_t>(tv.tv_sec) * 1000 + tv.tv_usec / 1000; };
  return Json().num("userMs", ms(ru.ru_utime)).num("sysMs", ms(ru.ru_stime)).num("maxRssKb", ru.ru_maxrss).text();
}

// ---------- errors and outcomes ----------

struct Outcome {
  enum Kind { Ok, Broken, Error } kind = Ok;
  int code = 0;
  std::string message;

  static Outcome ok() { return {}; }
  static Outcome broken(int code, std::string msg) { return {Broken, code, std::move(msg)}; }
  static Outcome error(int code, std::string msg) { return {Error, code, std::move(msg)}; }
  static Outcome fromUdt(const std::string& what) {
    int code = UDT::getlasterror_code();
    std::string msg = what + ": " + UDT::getlasterror_desc();
    return isConnectionEnd(code) ? broken(code, msg) : error(code, msg);
  }
  static bool isConnectionEnd(int code) { return code == kConnLost || code == kNoConn; }
  bool isOk() const { return kind == Ok; }
  int exitCode() const { return kind == Ok ? kExitOk : kind == Broken ? kExitBroken : kExitError; }
};

Outcome worse(const Outcome& a, const Outcome& b) { return b.kind > a.kind ? b : a; }

[[noreturn]] void fail(int exitCode, int code, const std::string& message) {
  emitLine(event("error").num("code", code).str("message", message).text());
  std::_Exit(exitCode);
}

[[noreturn]] void usage(const std::string& message) {
  std::cerr << "udtpeer: " << message << "\n(see udtpeer --help)\n";
  fail(kExitUsage, -1, "usage: " + message);
}

// ---------- argument parsing ----------

int64_t parseInt(const std::string& flag, const std::string& value) {
  try {
    size_t used = 0;
    long long v = std::stoll(value, &used, 0);
    if (used != value.size()) throw std::invalid_argument("trailing");
    return v;
  } catch (const std::exception&) {
    usage(flag + " needs an integer, got '" + value + "'");
  }
}

int parseInt32(const std::string& flag, const std::string& value) {
  int64_t v = parseInt(flag, value);
  if (v < INT32_MIN || v > INT32_MAX) usage(flag + " is out of range");
  return static_cast<int>(v);
}

void assign(std::string& field, const std::string&, const std::string& value) { field = value; }
void assign(int& field, const std::string& flag, const std::string& value) { field = parseInt32(flag, value); }
void assign(int64_t& field, const std::string& flag, const std::string& value) { field = parseInt(flag, value); }
void assign(uint64_t& field, const std::string& flag, const std::string& value) {
  field = static_cast<uint64_t>(parseInt(flag, value));
}
void assign(bool& field, const std::string& flag, const std::string& value) { field = parseInt(flag, value) != 0; }
void assign(double& field, const std::string& flag, const std::string& value) {
  try {
    field = std::stod(value);
  } catch (const std::exception&) {
    usage(flag + " needs a number, got '" + value + "'");
  }
}
template <typename T>
void assign(std::optional<T>& field, const std::string& flag, const std::string& value) {
  T v{};
  assign(v, flag, value);
  field = v;
}

struct FlagSpec {
  const char* name;
  bool takesValue;
  std::function<void(Options&, const std::string& flag, const std::string& value)> apply;
};

template <typename T>
FlagSpec valueFlag(const char* name, T Options::*field) {
  return {name, true, [field](Options& o, const std::string& flag, const std::string& v) { assign(o.*field, flag, v); }};
}

FlagSpec switchFlag(const char* name, bool Options::*field) {
  return {name, false, [field](Options& o, const std::string&, const std::string&) { o.*field = true; }};
}

const std::vector<FlagSpec>& flagSpecs() {
  static const std::vector<FlagSpec> specs = {
      valueFlag("--host", &Options::host),          valueFlag("--port", &Options::port),
      valueFlag("--local-port", &Options::localPort), valueFlag("--count", &Options::count),
      switchFlag("--dgram", &Options::dgram),       switchFlag("--ipv6", &Options::ipv6),
      switchFlag("--rendezvous", &Options::rendezvous), valueFlag("--mss", &Options::mss),
      valueFlag("--fc", &Options::fc),              valueFlag("--rcvbuf", &Options::rcvbuf),
      valueFlag("--sndbuf", &Options::sndbuf),      valueFlag("--udp-rcvbuf", &Options::udpRcvbuf),
      valueFlag("--udp-sndbuf", &Options::udpSndbuf), valueFlag("--maxbw", &Options::maxbw),
      valueFlag("--linger", &Options::lingerSec),   valueFlag("--send", &Options::sendFile),
      valueFlag("--send-bytes", &Options::sendBytes), valueFlag("--seed", &Options::seed),
      valueFlag("--msg-size", &Options::msgSize),   valueFlag("--ttl", &Options::ttl),
      valueFlag("--inorder", &Options::inorder),    valueFlag("--recv", &Options::recvFile),
      switchFlag("--discard", &Options::discard),   switchFlag("--echo", &Options::echo),
      valueFlag("--expect-bytes", &Options::expectBytes), valueFlag("--expect-msgs", &Options::expectMsgs),
      valueFlag("--max-msg", &Options::maxMsg),     valueFlag("--close-wait", &Options::closeWaitMs),
      valueFlag("--hold-ms", &Options::holdMs),     valueFlag("--perf-interval", &Options::perfIntervalMs),
      valueFlag("--max-time", &Options::maxTimeSec),
  };
  return specs;
}

const FlagSpec& findFlag(const std::string& flag) {
  for (const FlagSpec& spec : flagSpecs())
    if (flag == spec.name) return spec;
  usage("unknown flag '" + flag + "'");
}

Options parseArgs(int argc, char** argv) {
  Options o;
  if (argc < 2) usage("missing role (listen or connect)");
  o.role = argv[1];
  if (o.role == "--help" || o.role == "-h") {
    std::fputs(kUsage, stdout);
    std::exit(kExitOk);
  }
  if (o.role != "listen" && o.role != "connect") usage("unknown role '" + o.role + "'");
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    const FlagSpec& spec = findFlag(flag);
    if (spec.takesValue && i + 1 >= argc) usage(flag + " needs a value");
    spec.apply(o, flag, spec.takesValue ? argv[++i] : "");
  }
  if (o.port.empty()) usage("--port is required");
  if (o.role == "connect" && o.host.empty()) usage("connect needs --host");
  if (o.rendezvous && (o.role != "connect" || !o.localPort)) usage("--rendezvous needs connect and --local-port");
  if (o.port == "-" && o.role != "connect") usage("--port - only works with connect");
  if (o.count < 1) usage("--count must be >= 1");
  if (!o.sendFile.empty() && o.sendBytes) usage("--send and --send-bytes exclude each other");
  if (!o.recvFile.empty() && o.discard) usage("--recv and --discard exclude each other");
  if (o.echo && (o.sends() || o.receives())) usage("--echo excludes the other direction flags");
  if (o.msgSize < 1 || o.maxMsg < 1) usage("--msg-size and --max-msg must be positive");
  if (o.host.empty()) o.host = o.ipv6 ? "::" : "0.0.0.0";
  return o;
}

// ---------- addresses ----------

struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family() const { return storage.ss_family; }
  sockaddr* ptr() { return reinterpret_cast<sockaddr*>(&storage); }
  const sockaddr* ptr() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

Address resolve(const std::string& host, int port, bool preferIpv6) {
  addrinfo hints{};
  hints.ai_family = preferIpv6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) fail(kExitError, -1, "cannot resolve '" + host + "': " + gai_strerror(rc));
  Address a;
  std::memcpy(&a.storage, res->ai_addr, res->ai_addrlen);
  a.len = res->ai_addrlen;
  freeaddrinfo(res);
  return a;
}

std::string formatAddress(const sockaddr* sa) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(s6->sin6_port));
  }
  const auto* s4 = reinterpret_cast<const sockaddr_in*>(sa);
  inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
  port = ntohs(s4->sin_port);
  return std::string(ip) + ":" + std::to_string(port);
}

int portOf(const Address& a) {
  return a.family() == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(a.ptr())->sin6_port)
                                : ntohs(reinterpret_cast<const sockaddr_in*>(a.ptr())->sin_port);
}

std::string localAddress(UDTSOCKET u) {
  Address a;
  int len = sizeof a.storage;
  if (UDT::getsockname(u, a.ptr(), &len) == UDT::ERROR) return "";
  return formatAddress(a.ptr());
}

// ---------- socket set-up ----------

template <typename T>
void setOpt(UDTSOCKET u, UDTOpt opt, const char* name, const T& value) {
  if (UDT::setsockopt(u, 0, opt, &value, sizeof value) == UDT::ERROR)
    fail(kExitError, UDT::getlasterror_code(), std::string("setsockopt ") + name + ": " + UDT::getlasterror_desc());
}

void applyOptions(UDTSOCKET u, const Options& o) {
  if (o.mss) setOpt(u, UDT_MSS, "UDT_MSS", *o.mss);
  if (o.fc) setOpt(u, UDT_FC, "UDT_FC", *o.fc);
  if (o.sndbuf) setOpt(u, UDT_SNDBUF, "UDT_SNDBUF", *o.sndbuf);
  if (o.rcvbuf) setOpt(u, UDT_RCVBUF, "UDT_RCVBUF", *o.rcvbuf);
  if (o.udpSndbuf) setOpt(u, UDP_SNDBUF, "UDP_SNDBUF", *o.udpSndbuf);
  if (o.udpRcvbuf) setOpt(u, UDP_RCVBUF, "UDP_RCVBUF", *o.udpRcvbuf);
  if (o.maxbw) setOpt(u, UDT_MAXBW, "UDT_MAXBW", static_cast<int64_t>(*o.maxbw));
  if (o.lingerSec) setOpt(u, UDT_LINGER, "UDT_LINGER", linger{1, *o.lingerSec});
  if (o.rendezvous) setOpt(u, UDT_RENDEZVOUS, "UDT_RENDEZVOUS", true);
}

UDTSOCKET openSocket(const Options& o, int family) {
  UDTSOCKET u = UDT::socket(family, o.dgram ? SOCK_DGRAM : SOCK_STREAM, 0);
  if (u == UDT::INVALID_SOCK) fail(kExitError, UDT::getlasterror_code(), std::string("socket: ") + UDT::getlasterror_desc());
  applyOptions(u, o);
  return u;
}

void bindOrFail(UDTSOCKET u, const Address& a) {
  if (UDT::bind(u, a.ptr(), a.len) == UDT::ERROR)
    fail(kExitError, UDT::getlasterror_code(), "bind " + formatAddress(a.ptr()) + ": " + UDT::getlasterror_desc());
}

int boundPort(UDTSOCKET u) {
  Address a;
  int len = sizeof a.storage;
  if (UDT::getsockname(u, a.ptr(), &len) == UDT::ERROR) return -1;
  return portOf(a);
}

// ---------- time ----------

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

void sleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

bool isGone(UDTSOCKET u) {
  UDTSTATUS s = UDT::getsockstate(u);
  return s == BROKEN || s == CLOSING || s == CLOSED || s == NONEXIST;
}

// Polls until the peer has closed (or the connection broke) or timeoutMs passed; -1 waits without limit.
bool waitPeerGone(UDTSOCKET u, int timeoutMs) {
  const int64_t deadline = nowMs() + timeoutMs;
  while (!isGone(u)) {
    if (timeoutMs >= 0 && nowMs() >= deadline) return false;
    sleepMs(5);
  }
  return true;
}

// ---------- payload sources and sinks ----------

class PatternSource {
 public:
  explicit PatternSource(uint64_t seed) : pattern_(kChunk) {
    uint64_t x = seed;
    for (size_t i = 0; i < pattern_.size(); i += 8) {
      uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      z ^= z >> 31;
      std::memcpy(&pattern_[i], &z, 8);
    }
  }
  // A pointer to `len` pseudo-random bytes continuing the stream at `offset` (len is capped to stay in the pattern).
  const char* at(int64_t offset, int* len) const {
    const size_t start = static_cast<size_t>(offset % static_cast<int64_t>(pattern_.size()));
    *len = static_cast<int>(std::min<size_t>(*len, pattern_.size() - start));
    return &pattern_[start];
  }
  // Copies `len` bytes of the stream starting at `offset` into `dst`, wrapping around the pattern as needed.
  void fill(int64_t offset, char* dst, int len) const {
    while (len > 0) {
      int piece = len;
      std::memcpy(dst, at(offset, &piece), piece);
      dst += piece;
      offset += piece;
      len -= piece;
    }
  }

 private:
  std::vector<char> pattern_;
};

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;

FilePtr openFile(const std::string& path, const char* mode) {
  FilePtr f(std::fopen(path.c_str(), mode));
  if (!f) fail(kExitError, errno, "cannot open '" + path + "': " + std::strerror(errno));
  std::setvbuf(f.get(), nullptr, _IOFBF, 1 << 20);
  return f;
}

void putBe32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

uint32_t getBe32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

class Sink {
 public:
  explicit Sink(const std::string& path) : file_(path.empty() ? nullptr : openFile(path, "wb")) {}
  bool write(const char* data, size_t len) { return !file_ || std::fwrite(data, 1, len, file_.get()) == len; }
  bool writeMessage(const char* data, uint32_t len) {
    char header[4];
    putBe32(header, len);
    return write(header, 4) && write(data, len);
  }
  bool close() { return !file_ || std::fclose(file_.release()) == 0; }

 private:
  FilePtr file_;
};

// ---------- one connection ----------

struct Connection {
  Connection(UDTSOCKET sock, int idx, const Options& opts) : u(sock), index(idx), o(opts) {}

  UDTSOCKET u;
  int index;
  const Options& o;
  int64_t startMs = nowMs();
  std::atomic<int64_t> bytesSent{0}, bytesRecv{0}, msgsSent{0}, msgsRecv{0};
  std::atomic<int64_t> lastRecvMs{nowMs()};
  std::atomic<int64_t> lastPerfMs{0};
  std::atomic<bool> finished{false};

  std::mutex perfMu;
  std::condition_variable perfCv;
  UDT::TRACEINFO lastPerf{};
  bool havePerf = false;

  void noteRecv(int64_t bytes) {
    bytesRecv += bytes;
    if (o.dgram) msgsRecv += 1;
    lastRecvMs = nowMs();
  }
  bool receiveComplete() const {
    return (o.expectBytes && bytesRecv >= *o.expectBytes) || (o.expectMsgs && msgsRecv >= *o.expectMsgs);
  }
  Json tagged(const char* name) const { return event(name).num("conn", index).num("socketId", u); }
};

void snapshotPerf(Connection& c) {
  UDT::TRACEINFO p;
  if (UDT::perfmon(c.u, &p, false) == UDT::ERROR) return;
  std::lock_guard<std::mutex> lock(c.perfMu);
  c.lastPerf = p;
  c.havePerf = true;
  c.lastPerfMs = nowMs();
}

Outcome sendBuffer(Connection& c, const char* data, int len) {
  if (c.o.dgram) {
    const int n = UDT::sendmsg(c.u, data, len, c.o.ttl, c.o.inorder);
    if (n == UDT::ERROR) return Outcome::fromUdt("sendmsg");
    c.bytesSent += n;
    c.msgsSent += 1;
    return Outcome::ok();
  }
  for (int off = 0; off < len;) {
    const int n = UDT::send(c.u, data + off, len - off, 0);
    if (n == UDT::ERROR) return Outcome::fromUdt("send");
    off += n;
    c.bytesSent += n;
  }
  return Outcome::ok();
}

// Reads bytes or messages until the peer closes, the expectation is met, or an error; returns how it ended.
Outcome receiveLoop(Connection& c, Sink& sink, bool echoBack) {
  std::unique_ptr<char[]> buf(new char[c.o.dgram ? c.o.maxMsg : kChunk]);
  while (!c.receiveComplete()) {
    const int n = c.o.dgram ? UDT::recvmsg(c.u, buf.get(), c.o.maxMsg) : UDT::recv(c.u, buf.get(), kChunk, 0);
    if (n == UDT::ERROR) {
      const int code = UDT::getlasterror_code();
      if (Outcome::isConnectionEnd(code)) return Outcome::broken(code, "peer closed or connection lost");
      return Outcome::fromUdt(c.o.dgram ? "recvmsg" : "recv");
    }
    c.noteRecv(n);
    if (nowMs() - c.lastPerfMs >= kReceiveSnapshotMs) snapshotPerf(c);
    const bool stored = c.o.dgram ? sink.writeMessage(buf.get(), static_cast<uint32_t>(n)) : sink.write(buf.get(), n);
    if (!stored) return Outcome::error(errno, std::string("write: ") + std::strerror(errno));
    if (echoBack) {
      Outcome echoed = sendBuffer(c, buf.get(), n);
      if (!echoed.isOk()) return echoed;
    }
  }
  return Outcome::ok();
}

Outcome sendPattern(Connection& c, int64_t total) {
  PatternSource pattern(c.o.seed);
  const int unit = c.o.dgram ? c.o.msgSize : kChunk;
  std::unique_ptr<char[]> msg(c.o.dgram ? new char[unit] : nullptr);
  for (int64_t off = 0; off < total;) {
    int len = static_cast<int>(std::min<int64_t>(unit, total - off));
    const char* data = msg ? msg.get() : pattern.at(off, &len);
    if (msg) pattern.fill(off, msg.get(), len);
    Outcome r = sendBuffer(c, data, len);
    if (!r.isOk()) return r;
    off += len;
  }
  return Outcome::ok();
}

Outcome sendStreamFile(Connection& c) {
  FilePtr f = openFile(c.o.sendFile, "rb");
  std::unique_ptr<char[]> buf(new char[kChunk]);
  for (;;) {
    const size_t n = std::fread(buf.get(), 1, kChunk, f.get());
    if (n == 0) break;
    Outcome r = sendBuffer(c, buf.get(), static_cast<int>(n));
    if (!r.isOk()) return r;
  }
  return std::ferror(f.get()) ? Outcome::error(errno, "read " + c.o.sendFile) : Outcome::ok();
}

Outcome sendMessageFile(Connection& c) {
  FilePtr f = openFile(c.o.sendFile, "rb");
  std::vector<char> msg;
  unsigned char header[4];
  for (;;) {
    const size_t h = std::fread(header, 1, 4, f.get());
    if (h == 0) break;
    const uint32_t len = getBe32(header);
    msg.resize(len);
    if (h != 4 || std::fread(msg.data(), 1, len, f.get()) != len)
      return Outcome::error(-1, "truncated message file " + c.o.sendFile);
    Outcome r = sendBuffer(c, msg.data(), static_cast<int>(len));
    if (!r.isOk()) return r;
  }
  return Outcome::ok();
}

// Waits until the peer has acknowledged everything we sent (UDT_SNDDATA == 0), so close() loses nothing.
Outcome flush(Connection& c) {
  const int64_t deadline = nowMs() + static_cast<int64_t>(c.o.lingerSec.value_or(180)) * 1000;
  for (;;) {
    int32_t pending = 0;
    int len = sizeof pending;
    if (UDT::getsockopt(c.u, 0, UDT_SNDDATA, &pending, &len) == UDT::ERROR) return Outcome::fromUdt("flush");
    if (pending == 0) return Outcome::ok();
    if (isGone(c.u)) return Outcome::broken(kConnLost, "connection ended with " + std::to_string(pending) + " packets unacknowledged");
    if (nowMs() >= deadline) return Outcome::error(6003, "linger time ran out with " + std::to_string(pending) + " packets unacknowledged");
    sleepMs(2);
  }
}

Outcome sendAll(Connection& c) {
  Outcome r = c.o.sendBytes ? sendPattern(c, *c.o.sendBytes)
              : c.o.dgram   ? sendMessageFile(c)
                            : sendStreamFile(c);
  return r.isOk() ? flush(c) : r;
}

std::string recvPath(const Options& o, int index) {
  if (o.recvFile.empty() || o.count == 1) return o.recvFile;
  return o.recvFile + "." + std::to_string(index);
}

// Turns the way a receive ended into the connection outcome (see --expect-*; without them, silence before the end
// of at least the libudt death threshold means the peer died rather than closed).
Outcome judgeReceive(Connection& c, const Outcome& ended) {
  if (ended.kind == Outcome::Error) return ended;
  if (c.o.expectBytes && c.bytesRecv > *c.o.expectBytes)
    return Outcome::error(-1, "received " + std::to_string(c.bytesRecv) + " bytes, more than expected");
  if (c.o.hasExpectation()) {
    if (c.receiveComplete()) return Outcome::ok();
    return Outcome::broken(ended.code ? ended.code : kConnLost, "connection ended before the expected data arrived");
  }
  if (nowMs() - c.lastRecvMs >= kDeathSilenceMs) return Outcome::broken(ended.code, "connection lost after silence");
  return Outcome::ok();
}

Outcome receiveAll(Connection& c) {
  Sink sink(recvPath(c.o, c.index));
  Outcome ended = receiveLoop(c, sink, c.o.echo);
  if (!sink.close()) return Outcome::error(errno, "closing the receive file failed");
  return judgeReceive(c, ended);
}

void printPeriodicPerf(Connection& c) {
  UDT::TRACEINFO p;
  if (UDT::perfmon(c.u, &p, true) == UDT::ERROR) return;
  emitLine(c.tagged("perf")
               .num("bytesSent", c.bytesSent)
               .num("bytesRecv", c.bytesRecv)
               .raw("perf", perfJson(p))
               .text());
}

// Keeps a recent perfmon snapshot (perfmon fails once the peer has closed) and prints --perf-interval events.
void monitor(Connection& c) {
  const int snapshotEvery = 100;
  int64_t nextPrint = nowMs() + c.o.perfIntervalMs;
  std::unique_lock<std::mutex> lock(c.perfMu);
  while (!c.finished) {
    c.perfCv.wait_for(lock, std::chrono::milliseconds(snapshotEvery));
    if (c.finished) break;
    lock.unlock();
    snapshotPerf(c);
    if (c.o.perfIntervalMs > 0 && nowMs() >= nextPrint) {
      printPeriodicPerf(c);
      nextPrint += c.o.perfIntervalMs;
    }
    lock.lock();
  }
}

void stopMonitor(Connection& c, std::thread& t) {
  {
    std::lock_guard<std::mutex> lock(c.perfMu);
    c.finished = true;
  }
  c.perfCv.notify_all();
  t.join();
}

// perfmon fails once the peer has closed, so the receiver may only have a snapshot; perfAgeMs says how old it is.
void addFinalPerf(Connection& c, Json& j) {
  snapshotPerf(c);
  std::lock_guard<std::mutex> lock(c.perfMu);
  j.raw("perf", c.havePerf ? perfJson(c.lastPerf) : "null");
  if (c.havePerf) j.num("perfAgeMs", nowMs() - c.lastPerfMs);
}

Outcome runDirections(Connection& c) {
  Outcome sent, received;
  std::thread sender;
  if (c.o.sends()) sender = std::thread([&] { sent = sendAll(c); });
  if (c.o.receives() || c.o.echo) received = receiveAll(c);
  if (sender.joinable()) sender.join();
  return worse(sent, received);
}

// After our work: let the peer close first (it may still be waiting for our last ACK), then honour --hold-ms.
void waitBeforeClose(Connection& c, const Outcome& work) {
  if (!work.isOk()) return;
  if (c.o.holdMs != 0) {
    waitPeerGone(c.u, c.o.holdMs);
    return;
  }
  const bool peerMayStillSend = c.o.receives() && c.o.hasExpectation();
  if (peerMayStillSend) waitPeerGone(c.u, c.o.closeWaitMs);
}

void report(Connection& c, const Outcome& r, const Json& perf) {
  const int64_t now = nowMs();
  Json j = c.tagged(r.kind == Outcome::Ok ? "done" : r.kind == Outcome::Broken ? "broken" : "error");
  if (!r.isOk()) j.num("code", r.code).str("message", r.message);
  j.num("bytesSent", c.bytesSent).num("bytesRecv", c.bytesRecv);
  j.num("msgsSent", c.msgsSent).num("msgsRecv", c.msgsRecv);
  j.num("elapsedMs", now - c.startMs).num("msSinceStart", now - c.startMs).num("msSinceLastRecv", now - c.lastRecvMs);
  j.merge(perf).raw("rusage", rusageJson());
  emitLine(j.text());
}

Outcome serveConnection(UDTSOCKET u, int index, const Options& o, const sockaddr* peer) {
  Connection c(u, index, o);
  emitLine(c.tagged("connected").str("peer", formatAddress(peer)).str("local", localAddress(u)).text());
  std::thread mon([&] { monitor(c); });
  Outcome r = runDirections(c);
  waitBeforeClose(c, r);
  Json perf;
  addFinalPerf(c, perf);
  stopMonitor(c, mon);
  UDT::close(u);
  report(c, r, perf);
  return r;
}

// ---------- roles ----------

class OutcomeSet {
 public:
  void add(const Outcome& r) {
    std::lock_guard<std::mutex> lock(mu_);
    worst_ = worse(worst_, r);
  }
  int exitCode() {
    std::lock_guard<std::mutex> lock(mu_);
    return worst_.exitCode();
  }

 private:
  std::mutex mu_;
  Outcome worst_;
};

int runListener(const Options& o) {
  const int port = parseInt32("--port", o.port);
  const Address local = resolve(o.host, port, o.ipv6);
  UDTSOCKET server = openSocket(o, local.family());
  bindOrFail(server, local);
  if (UDT::listen(server, std::max(o.count, 16)) == UDT::ERROR)
    fail(kExitError, UDT::getlasterror_code(), std::string("listen: ") + UDT::getlasterror_desc());
  emitLine(event("listening").num("port", boundPort(server)).str("local", localAddress(server)).text());

  OutcomeSet outcomes;
  std::vector<std::thread> handlers;
  for (int i = 0; i < o.count; ++i) {
    Address peer;
    int len = sizeof peer.storage;
    UDTSOCKET u = UDT::accept(server, peer.ptr(), &len);
    if (u == UDT::INVALID_SOCK) {
      outcomes.add(Outcome::fromUdt("accept"));
      emitLine(event("error").num("code", UDT::getlasterror_code()).str("message", UDT::getlasterror_desc()).text());
      break;
    }
    handlers.emplace_back([&, u, i, peer] { outcomes.add(serveConnection(u, i, o, peer.ptr())); });
  }
  for (auto& t : handlers) t.join();
  UDT::close(server);
  return outcomes.exitCode();
}

int readPortFromStdin() {
  std::string line;
  if (!std::getline(std::cin, line)) fail(kExitUsage, -1, "--port -: no port on stdin");
  return parseInt32("peer port from stdin", line);
}

UDTSOCKET openClientSocket(const Options& o, int family) {
  UDTSOCKET u = openSocket(o, family);
  if (o.localPort) {
    const Address local = resolve(family == AF_INET6 ? "::" : "0.0.0.0", *o.localPort, family == AF_INET6);
    bindOrFail(u, local);
  }
  return u;
}

int runConnector(const Options& o) {
  const int familyHint = resolve(o.host, 0, o.ipv6).family();
  std::vector<UDTSOCKET> sockets;
  for (int i = 0; i < o.count; ++i) {
    sockets.push_back(openClientSocket(o, familyHint));
    if (o.localPort) emitLine(event("bound").num("conn", i).num("port", boundPort(sockets.back())).text());
  }
  const int port = o.port == "-" ? readPortFromStdin() : parseInt32("--port", o.port);
  const Address remote = resolve(o.host, port, o.ipv6);

  OutcomeSet outcomes;
  std::vector<std::thread> clients;
  for (int i = 0; i < o.count; ++i) {
    clients.emplace_back([&, i] {
      UDTSOCKET u = sockets[i];
      if (UDT::connect(u, remote.ptr(), remote.len) == UDT::ERROR) {
        Outcome r = Outcome::error(UDT::getlasterror_code(), std::string("connect: ") + UDT::getlasterror_desc());
        emitLine(event("error").num("conn", i).num("code", r.code).str("message", r.message).text());
        UDT::close(u);
        outcomes.add(r);
        return;
      }
      outcomes.add(serveConnection(u, i, o, remote.ptr()));
    });
  }
  for (auto& t : clients) t.join();
  return outcomes.exitCode();
}

void startWatchdog(double seconds) {
  if (seconds <= 0) return;
  std::thread([seconds] {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    char message[64];
    std::snprintf(message, sizeof message, "--max-time of %g s exceeded", seconds);
    fail(kExitMaxTime, -2, message);
  }).detach();
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const Options o = parseArgs(argc, argv);
  startWatchdog(o.maxTimeSec);
  UDT::startup();
  const int code = o.role == "listen" ? runListener(o) : runConnector(o);
  UDT::cleanup();
  return code;
}
