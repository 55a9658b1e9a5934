# Every dependency comes from Debian bookworm's packages (scripts/setup).

find_package(Threads REQUIRED)
find_package(date CONFIG REQUIRED)        # libhowardhinnant-date-dev: date::date-tz (OS tzdb)
find_package(spdlog CONFIG REQUIRED)      # libspdlog-dev
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS json) # Beast/Asio are header-only

# libcaf-dev 0.17.6 ships no CMake config, FindCAF or pkg-config file.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
find_library(CAF_OPENSSL_LIBRARY caf_openssl REQUIRED) # mutual TLS for cluster and console
find_package(OpenSSL REQUIRED)
if(NOT TARGET CAF::core)
  add_library(CAF::core SHARED IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  # SYSTEM: our warning flags must not fire inside CAF's headers.
  target_include_directories(CAF::core SYSTEM INTERFACE "${CAF_INCLUDE_DIR}")
  add_library(CAF::io SHARED IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
    INTERFACE_LINK_LIBRARIES CAF::core)
  add_library(CAF::openssl SHARED IMPORTED)
  set_target_properties(CAF::openssl PROPERTIES
    IMPORTED_LOCATION "${CAF_OPENSSL_LIBRARY}"
    INTERFACE_LINK_LIBRARIES "CAF::io;OpenSSL::SSL")
endif()
