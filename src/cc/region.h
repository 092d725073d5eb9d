// Page-aligned anonymous memory shared by the addon, its pacing thread and JS (as external ArrayBuffers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace udt {

class Region {
 public:
  explicit Region(size_t bytes);
  ~Region();
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_;
  size_t size_;
};

using RegionPtr = std::shared_ptr<Region>;

}  // namespace udt
