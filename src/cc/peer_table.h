// Interns peer socket addresses into small integer handles (freed handles are reused). Loop thread only.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "sock_addr.h"

namespace udt {

class PeerTable {
 public:
  /** The handle for `a`, creating one if it is new. */
  int intern(const Addr& a);
  /** The address of a live handle, or null. */
  const Addr* get(int handle) const {
    if (handle < 0 || static_cast<size_t>(handle) >= addrs_.size() || !live_[handle]) return nullptr;
    return &addrs_[handle];
  }
  bool release(int handle);
  size_t size() const { return map_.size(); }

 private:
  struct Key {
    uint8_t bytes[24];
    bool operator==(const Key& o) const;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  static Key keyOf(const Addr& a);

  std::vector<Addr> addrs_;
  std::vector<uint8_t> live_;
  std::vector<int> free_;
  std::unordered_map<Key, int, KeyHash> map_;
};

}  // namespace udt
