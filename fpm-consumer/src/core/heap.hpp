// fpm-consumer core: the heap after a step that frees a whole state.
#pragma once

namespace evpnmon::consumer {

// glibc puts the chunks a free() returns, once coalesced, on one unsorted
// list, and sorts at most 10,000 of them per later malloc() that finds no
// fit. The audit frees a whole decision (at 100,000 sessions about
// 200,000 entries): the next few events that allocate then paid about
// 0.5 ms each, and the pacer stretched each such pass into a 2 ms gap
// (docs/benchmarks.md, "A server's move in the consumer"). This sorts them
// at the end of the step that freed them, where the cost is the step's.
// Cheap when nothing is left (a few microseconds). Built for glibc, which
// the benchmarks and tests link; the daemon runs on jemalloc
// (daemon/allocator.hpp), which has no such list: there it costs 64
// allocations of a few microseconds. Called after the audit's comparison
// (and a check dropped before it) when the engine frees the decision in
// the step (not with EngineConfig::release_in_background, the daemon's
// setting), and after each whole state document
// (Consumer::answer() and the metrics scrape, each built from its own
// decide() and a JSON tree). Not covered: more than 640,000 freed chunks
// (a decision of over 100,000 sessions; a document's JSON tree is not
// measured), whose rest the next events still sort.
void sort_freed_chunks();

} // namespace evpnmon::consumer
