// The consumer's allocator: jemalloc, linked in.
#pragma once

#include <string>

namespace evpnmon::consumer {

// At 100,000 sessions the consumer's state is about 350 MiB of small tree
// and hash nodes, and every audit builds and frees a whole
// decision. On jemalloc the daemon spent 409-423 ms of CPU per audit
// against 538-567 ms on glibc, and took in 100,000 sessions with 12-30 %
// less CPU (docs/benchmarks.md, "jemalloc in the daemon"). jemalloc's own
// settings: its arenas on transparent huge pages (MALLOC_CONF=thp:always)
// took 100,000 sessions in with 13-18 % more CPU and 3 % more memory, so
// they are left as jemalloc has them.
//
// One line for the start-up log: the allocator and its huge-page mode.
std::string allocator_summary();

// Returns the pages of freed memory to the kernel now (after a state
// answer of hundreds of MB of JSON nodes: a leaf daemon should not stay
// at its peak until jemalloc's decay returns them). 0, or mallctl()'s
// error number.
int release_free_memory();

} // namespace evpnmon::consumer
