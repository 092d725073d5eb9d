// PeerTable: hash map from (family, address, port, scope) to handle, plus a free list.
#include "peer_table.h"

#include <cstring>

namespace udt {

bool PeerTable::Key::operator==(const Key& o) const { return std::memcmp(bytes, o.bytes, sizeof(bytes)) == 0; }

size_t PeerTable::KeyHash::operator()(const Key& k) const {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : k.bytes) h = (h ^ b) * 1099511628211ull;
  return static_cast<size_t>(h ^ (h >> 32));
}

PeerTable::Key PeerTable::keyOf(const Addr& a) {
  Key k;
  std::memset(k.bytes, 0, sizeof(k.bytes));
  if (a.u.sa.sa_family == AF_INET) {
    k.bytes[0] = 4;
    std::memcpy(k.bytes + 2, &a.u.v4.sin_port, 2);
    std::memcpy(k.bytes + 4, &a.u.v4.sin_addr, 4);
  } else {
    k.bytes[0] = 6;
    std::memcpy(k.bytes + 2, &a.u.v6.sin6_port, 2);
    std::memcpy(k.bytes + 4, &a.u.v6.sin6_addr, 16);
    std::memcpy(k.bytes + 20, &a.u.v6.sin6_scope_id, 4);
  }
  return k;
}

int PeerTable::intern(const Addr& a) {
  Key k = keyOf(a);
  auto it = map_.find(k);
  if (it != map_.end()) return it->second;
  int h;
  if (!free_.empty()) {
    h = free_.back();
    free_.pop_back();
  } else {
    h = static_cast<int>(addrs_.size());
    addrs_.emplace_back();
    live_.push_back(0);
  }
  addrs_[h] = a;
  normalizeAddr(addrs_[h]);
  live_[h] = 1;
  map_.emplace(k, h);
  return h;
}

bool PeerTable::release(int handle) {
  const Addr* a = get(handle);
  if (!a) return false;
  map_.erase(keyOf(*a));
  live_[handle] = 0;
  free_.push_back(handle);
  return true;
}

}  // namespace udt
