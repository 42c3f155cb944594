# evpnmon_lab_pytest(NAME FILE TIMEOUT): a pytest-based lab test, FILE
# relative to the calling directory. Included by the top-level
# CMakeLists.txt before every component, so that each registers its own.
find_program(EVPNMON_SYSTEM_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT EVPNMON_SYSTEM_PYTHON3)
  set(EVPNMON_SYSTEM_PYTHON3 /usr/bin/python3)
endif()

# pytest-based lab test (file relative to the calling directory). RESOURCE_LOCK
# keeps fabrics from running side by side on a 2-core machine even under
# ctest -j. No SKIP_RETURN_CODE: a run that collects nothing fails, and
# EVPNMON_NO_SKIP=1 turns a skipped test into a failure (tests/conftest.py).
function(evpnmon_lab_pytest name file timeout)
  add_test(NAME ${name}
    COMMAND ${EVPNMON_SYSTEM_PYTHON3} -m pytest -v -p no:cacheprovider
            ${CMAKE_CURRENT_SOURCE_DIR}/${file}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES
    LABELS "integration;lab"
    TIMEOUT ${timeout}
    RESOURCE_LOCK netns-lab
    ENVIRONMENT "EVPNMON_FRR_PREFIX=${CMAKE_BINARY_DIR}/frr;EVPNMON_BUILD_DIR=${CMAKE_BINARY_DIR};EVPNMON_NO_SKIP=1;PYTHONDONTWRITEBYTECODE=1")
endfunction()
