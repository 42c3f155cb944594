# evpnmon-collector end-to-end tests (included from tests/collector/CMakeLists.txt,
# itself added by collector/CMakeLists.txt, before tests/CMakeLists.txt has
# defined evpnmon_lab_pytest(): hence a function of our own, same policy).
# They run the real collector binary against real packets in network
# namespaces (root): RESOURCE_LOCK netns-lab keeps them from running beside a
# fabric; EVPNMON_NO_SKIP=1 turns a skip into a failure (tests/conftest.py).
find_program(EVPNMON_COLLECTOR_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT EVPNMON_COLLECTOR_PYTHON3)
  set(EVPNMON_COLLECTOR_PYTHON3 /usr/bin/python3)
endif()

function(evpnmon_collector_pytest name file timeout)
  add_test(NAME ${name}
    COMMAND ${EVPNMON_COLLECTOR_PYTHON3} -m pytest -v -p no:cacheprovider
            ${CMAKE_CURRENT_LIST_DIR}/${file}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES
    LABELS "integration;lab"
    TIMEOUT ${timeout}
    RESOURCE_LOCK netns-lab
    ENVIRONMENT "EVPNMON_FRR_PREFIX=${CMAKE_BINARY_DIR}/frr;EVPNMON_BUILD_DIR=${CMAKE_BINARY_DIR};EVPNMON_NO_SKIP=1;PYTHONDONTWRITEBYTECODE=1")
endfunction()

if(TARGET evpnmon-collector)
  # two namespaces and a veth, no fabric: a replayed ERSPAN III stream with
  # known gaps, every file and counter checked (losses, drop counts, times)
  evpnmon_collector_pytest(collector.replay test_collector_replay.py 300)
  if(EVPNMON_BUILD_FRR)
    # the reference fabric: ERSPAN III from several VTEPs with a host move,
    # and input 3 on SERV21's port
    evpnmon_collector_pytest(collector.lab test_collector_lab.py 900)
  endif()
endif()
