// Region: anonymous mmap so untouched pages of big slabs cost no resident memory.
#include "region.h"

#include <new>
#include <sys/mman.h>

namespace udt {

Region::Region(size_t bytes) : data_(nullptr), size_(bytes == 0 ? 1 : bytes) {
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  data_ = static_cast<uint8_t*>(p);
}

Region::~Region() { munmap(data_, size_); }

}  // namespace udt
