// The consumer's allocator: jemalloc, linked in.
#pragma once

#include <string>

namespace evpnmon::consumer {

// At 100,000 sessions the consumer's state is about 350 MiB of small tree
// and hash nodes, and every audit's check builds and frees a whole
// decision. On jemalloc the daemon spent 409 ms of CPU per audit against
// 567 ms on glibc, and took in 100,000 sessions with a fifth to a quarter
// less CPU (docs/benchmarks.md, "jemalloc in the daemon"). Its arenas are
// on transparent huge pages where the kernel gives them on request
// (`malloc_conf`, allocator.cpp): first touching the state page by page
// costs a fault per 4 KiB. An operator's MALLOC_CONF (environment)
// overrides that: MALLOC_CONF=thp:never for no huge pages.
//
// One line for the start-up log: the allocator and its huge-page mode.
std::string allocator_summary();

// Returns the pages of freed memory to the kernel now (after a state
// answer of hundreds of MB of JSON nodes: a leaf daemon should not stay
// at its peak until jemalloc's decay returns them).
void release_free_memory();

} // namespace evpnmon::consumer
