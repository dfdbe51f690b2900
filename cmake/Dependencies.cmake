# Third-party libraries, all from Debian 12 packages (scripts/install-deps.sh installs them).
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(PkgConfig REQUIRED)

# Debian's Poco DataPostgreSQL config expects a PostgreSQL::client target that FindPostgreSQL doesn't define.
find_package(PostgreSQL REQUIRED)
if(NOT TARGET PostgreSQL::client)
  add_library(PostgreSQL::client INTERFACE IMPORTED)
  target_link_libraries(PostgreSQL::client INTERFACE PostgreSQL::PostgreSQL)
endif()
find_package(Poco 1.11 REQUIRED COMPONENTS Foundation Net NetSSL Util Crypto JSON JWT)

# librdkafka ships pkg-config files only; the C++ API needs both libraries.
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++ rdkafka)

# simdjson On-Demand: the receiver validates and reads the event envelope without building a DOM.
find_package(simdjson 3 REQUIRED)

if(BILLING_TESTS)
  find_package(Catch2 2 REQUIRED)
  include(Catch)
endif()
