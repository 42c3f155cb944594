# fuzz_collector_decode: libFuzzer + ASan/UBSan target for the collector's
# decoders (fuzz_decode.cpp: GRE/ERSPAN from a raw socket and from
# AF_PACKET, VXLAN, the inner frame, packet times). The project compiler is
# g++, so clang++ builds it through a custom command; the decoders need
# only proto/erspan's header. ctest collector.fuzz-decode runs it for
# EVPNMON_FUZZ_SECONDS on the seed corpus (seeds/, make_seeds.py).
find_program(EVPNMON_CLANGXX NAMES clang++ clang++-14)
set(EVPNMON_FUZZ_SECONDS 30 CACHE STRING "Time budget of the fuzz ctest (seconds)")
if(NOT EVPNMON_CLANGXX)
  message(STATUS "collector: clang++ not found, fuzz_collector_decode disabled")
  return()
endif()
set(_cfz_dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
file(MAKE_DIRECTORY ${_cfz_dir} ${_cfz_dir}/corpus)
set(_cfz_probe ${_cfz_dir}/fuzz_probe.cpp)
file(WRITE ${_cfz_probe} "#include <cstdint>\n#include <cstddef>\nextern \"C\" int LLVMFuzzerTestOneInput(const uint8_t*, size_t){return 0;}\n")
execute_process(COMMAND ${EVPNMON_CLANGXX} -fsanitize=fuzzer ${_cfz_probe} -o ${_cfz_dir}/fuzz_probe
  RESULT_VARIABLE _cfz_ok OUTPUT_QUIET ERROR_QUIET)
if(NOT _cfz_ok EQUAL 0)
  message(STATUS "collector: ${EVPNMON_CLANGXX} cannot link -fsanitize=fuzzer, fuzz_collector_decode disabled")
  return()
endif()

file(GLOB _cfz_decode CONFIGURE_DEPENDS ${COLLECTOR_SRC}/decode/*.cpp)
file(GLOB _cfz_headers CONFIGURE_DEPENDS ${COLLECTOR_SRC}/decode/*.hpp)
set(_cfz_src ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_decode.cpp ${_cfz_decode})
set(_cfz_out ${_cfz_dir}/fuzz_collector_decode)
add_custom_command(OUTPUT ${_cfz_out}
  COMMAND ${EVPNMON_CLANGXX} -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined
    -I${COLLECTOR_SRC} -I${EVPNMON_ROOT}/proto/erspan
    ${_cfz_src} -o ${_cfz_out}
  DEPENDS ${_cfz_src} ${_cfz_headers} ${EVPNMON_ROOT}/proto/erspan/erspan_wire.h
  COMMENT "clang++ -fsanitize=fuzzer fuzz_collector_decode"
  VERBATIM)
add_custom_target(fuzz_collector_decode ALL DEPENDS ${_cfz_out})

# New inputs go to the build tree's corpus; the seeds stay read-only.
add_test(NAME collector.fuzz-decode
  COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
    ${_cfz_out} -max_total_time=${EVPNMON_FUZZ_SECONDS} -rss_limit_mb=1024 -max_len=9300
    -timeout=10 -print_final_stats=1 -artifact_prefix=${_cfz_dir}/
    ${_cfz_dir}/corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds)
set_tests_properties(collector.fuzz-decode PROPERTIES LABELS "fuzz;unit" TIMEOUT 600)
