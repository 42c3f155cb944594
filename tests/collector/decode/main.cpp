// test_collector_decode: the collector's decoders (collector/src/decode)
// and the shared GRE/ERSPAN wire header (proto/erspan/erspan_wire.h).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
