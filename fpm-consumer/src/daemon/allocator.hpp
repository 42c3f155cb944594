// The consumer's allocator: jemalloc, linked in.
#pragma once

#include <string>

namespace evpnmon::consumer {

// At 100,000 sessions the consumer's state is about 350 MiB of small tree
// and hash nodes, built and freed whole by every audit's check. Under
// jemalloc the daemon's decide() over all sessions took 172 ms against
// glibc's 272, the audit 524 against 742 ms and the re-read 118 against
// 263 ms, and glibc's sorting of the chunks a check frees (core/heap.hpp),
// which the next events paid, does not arise (docs/benchmarks.md,
// "jemalloc in the daemon"). Its arenas are on transparent huge pages
// where the kernel gives them on request (`malloc_conf`, allocator.cpp):
// first touching the state page by page costs a fault per 4 KiB. An
// operator's MALLOC_CONF (environment) overrides that, e.g.
// MALLOC_CONF=thp:default.
//
// One line for the start-up log: the allocator and its huge-page mode.
std::string allocator_summary();

// Returns the pages of freed memory to the kernel now (after a state
// answer of hundreds of MB of JSON nodes: a leaf daemon should not stay
// at its peak until jemalloc's decay returns them).
void release_free_memory();

} // namespace evpnmon::consumer
