# Integration tests of the linux backend (root, netns, BPF).
add_executable(test_dataplane_linux test_linux.cpp)
target_link_libraries(test_dataplane_linux PRIVATE evpnmon_dp_table doctest::doctest)
# The entry store is also driven directly (src/linux/entry_store.hpp).
target_include_directories(test_dataplane_linux PRIVATE ${EVPNMON_DP_SOURCE_DIR}/bpf
  ${EVPNMON_DP_SOURCE_DIR}/src)
add_test(NAME dataplane.linux COMMAND test_dataplane_linux)
set_tests_properties(dataplane.linux PROPERTIES LABELS "integration" TIMEOUT 300)
# The same with the TC programs on clsact filters, as on kernels without tcx
# (Debian 12's own 6.1); dataplane.linux uses tcx where the kernel has it.
add_test(NAME dataplane.linux_clsact COMMAND test_dataplane_linux)
set_tests_properties(dataplane.linux_clsact PROPERTIES LABELS "integration" TIMEOUT 300
  ENVIRONMENT EVPNMON_TEST_TC_HOOK=clsact)

add_test(NAME dataplane.two_vteps
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/two_vteps.sh $<TARGET_FILE:evpnmon-dpctl>)
set_tests_properties(dataplane.two_vteps PROPERTIES LABELS "integration" TIMEOUT 120)

# The semantic table on the real BPF object with BPF_PROG_TEST_RUN (root).
# tunnel_shim.bpf.c: test-only, gives a test_run packet tunnel metadata.
set(_dp_shim_src ${CMAKE_CURRENT_SOURCE_DIR}/bpf/tunnel_shim.bpf.c)
set(_dp_shim_obj ${CMAKE_CURRENT_BINARY_DIR}/tunnel_shim.bpf.o)
set(_dp_shim_skel ${CMAKE_CURRENT_BINARY_DIR}/gen/tunnel_shim.skel.h)
add_custom_command(
  OUTPUT ${_dp_shim_obj}
  COMMAND ${EVPNMON_CLANG} -O2 -g -Wall -target bpf
          -I/usr/include/${_dp_arch}-linux-gnu
          -I${EVPNMON_DP_SOURCE_DIR}/bpf
          -c ${_dp_shim_src} -o ${_dp_shim_obj}
  DEPENDS ${_dp_shim_src} ${EVPNMON_DP_SOURCE_DIR}/bpf/lib/tunnel.h
  COMMENT "BPF: tunnel_shim.bpf.c")
add_custom_command(
  OUTPUT ${_dp_shim_skel}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/gen
  COMMAND ${EVPNMON_BPFTOOL} gen skeleton ${_dp_shim_obj} name tunnel_shim > ${_dp_shim_skel}
  DEPENDS ${_dp_shim_obj}
  COMMENT "BPF skeleton: tunnel_shim.skel.h")
add_executable(test_dataplane_bpf test_bpf.cpp ${_dp_shim_skel})
target_include_directories(test_dataplane_bpf PRIVATE
  ${CMAKE_CURRENT_BINARY_DIR}/gen ${EVPNMON_DP_SOURCE_DIR}/bpf)
target_link_libraries(test_dataplane_bpf PRIVATE evpnmon_dp_table doctest::doctest)
add_test(NAME dataplane.bpf COMMAND test_dataplane_bpf)
set_tests_properties(dataplane.bpf PROPERTIES LABELS "integration" TIMEOUT 300)

# Truncation of a real TCP stream (GSO super-packets, CHECKSUM_PARTIAL).
add_executable(test_dataplane_truncate test_truncate.cpp)
target_link_libraries(test_dataplane_truncate PRIVATE evpnmon_dp_table doctest::doctest)
add_test(NAME dataplane.truncate COMMAND test_dataplane_truncate)
set_tests_properties(dataplane.truncate PROPERTIES LABELS "integration" TIMEOUT 120)

# ERSPAN II/III copies: every header bit with BPF_PROG_TEST_RUN on the
# loaded object, and the whole path (mirror -> ERSPAN device -> underlay).
add_executable(test_dataplane_erspan test_erspan.cpp)
target_include_directories(test_dataplane_erspan PRIVATE ${EVPNMON_DP_SOURCE_DIR}/bpf)
target_link_libraries(test_dataplane_erspan PRIVATE evpnmon_dp_table doctest::doctest)
add_test(NAME dataplane.erspan COMMAND test_dataplane_erspan)
set_tests_properties(dataplane.erspan PROPERTIES LABELS "integration" TIMEOUT 120)

# ERSPAN copies of a real TCP stream (GSO) to a collector namespace over a
# routed veth (MTU 1400), decoded by tshark.
add_executable(test_dataplane_erspan_stream test_erspan_stream.cpp)
target_link_libraries(test_dataplane_erspan_stream PRIVATE evpnmon_dp_table doctest::doctest)
add_test(NAME dataplane.erspan_stream COMMAND test_dataplane_erspan_stream)
set_tests_properties(dataplane.erspan_stream PROPERTIES LABELS "integration" TIMEOUT 120)

# evpnmon-dpctl's parsing (the tool is built with the linux backend; the
# test drives it on the memory backend: no root needed).
add_executable(test_dataplane_dpctl test_dpctl.cpp)
target_include_directories(test_dataplane_dpctl PRIVATE ${EVPNMON_DP_SOURCE_DIR}/tools)
target_link_libraries(test_dataplane_dpctl PRIVATE evpnmon_dataplane doctest::doctest)
target_compile_definitions(test_dataplane_dpctl PRIVATE
  EVPNMON_DPCTL="$<TARGET_FILE:evpnmon-dpctl>")
add_dependencies(test_dataplane_dpctl evpnmon-dpctl)
add_test(NAME dataplane.dpctl COMMAND test_dataplane_dpctl)
set_tests_properties(dataplane.dpctl PROPERTIES LABELS "unit" TIMEOUT 60)
