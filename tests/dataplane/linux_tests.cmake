# Integration tests of the linux backend (root, netns, BPF).
add_executable(test_dataplane_linux test_linux.cpp)
target_link_libraries(test_dataplane_linux PRIVATE evpnmon_dp_table doctest::doctest)
add_test(NAME dataplane.linux COMMAND test_dataplane_linux)
set_tests_properties(dataplane.linux PROPERTIES LABELS "integration" TIMEOUT 120)

add_test(NAME dataplane.two_vteps
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/two_vteps.sh $<TARGET_FILE:evpnmon-dpctl>)
set_tests_properties(dataplane.two_vteps PROPERTIES LABELS "integration" TIMEOUT 120)
