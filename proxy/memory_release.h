// Returning freed memory to the operating system.
//
// A burst (many concurrent calls, a sink writer running late on a busy core) raises the heap's
// high-water mark; the allocator keeps those pages for reuse, so the resident size would show
// the largest burst since start rather than what the process holds. Like Envoy's periodic
// tcmalloc release, worker 0 calls release_free_memory() about once a second.
//
// Contract
//  * Safe from any thread; returns pages that are free in the allocator's page heap (tcmalloc:
//    MallocExtension_ReleaseFreeMemory) or in glibc's arenas (malloc_trim), and nothing else.
//  * Costs a lock and an madvise per free run; objects cached per thread stay cached.
#pragma once

namespace sluice {
void release_free_memory();
}
