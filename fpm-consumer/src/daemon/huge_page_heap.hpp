// The consumer's heap on transparent huge pages.
#pragma once

namespace evpnmon::consumer {

// At 100,000 sessions the consumer's state is about 350 MiB of small
// tree and hash nodes, and first touching it page by page costs a fault
// per 4 KiB; on huge pages the daemon takes 100,000 sessions in with up
// to a fifth less CPU (docs/benchmarks.md, "fpm-consumer end to end").
// glibc backs its heap with transparent huge pages only when the tunable
// glibc.malloc.hugetlb is set, and reads tunables only when a program
// starts. So, when the kernel gives huge pages on request (THP mode
// "madvise") and the environment has no GLIBC_TUNABLES of its own, this
// re-executes the program once with GLIBC_TUNABLES=glibc.malloc.hugetlb=1
// (same pid, arguments and descriptors). An operator who sets
// GLIBC_TUNABLES, even empty, keeps glibc's default. Returns when nothing
// is to be done, or if the re-execution fails.
void use_huge_page_heap(char **argv);

} // namespace evpnmon::consumer
