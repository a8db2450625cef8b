#include "proxy/memory_release.h"

#if defined(SLUICE_WITH_TCMALLOC)
#include <gperftools/malloc_extension_c.h>
#elif defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#include <malloc.h>
#endif

namespace sluice {

void release_free_memory() {
#if defined(SLUICE_WITH_TCMALLOC)
  MallocExtension_ReleaseFreeMemory();
#elif defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
  malloc_trim(0);
#endif
}

}  // namespace sluice
