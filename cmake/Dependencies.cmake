# Every dependency comes from a Debian 12 package (tools/install-deps installs
# them). Each is an imported target; nothing is vendored.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(LDNS REQUIRED IMPORTED_TARGET ldns)
pkg_check_modules(IDN2 REQUIRED IMPORTED_TARGET libidn2)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
find_package(SQLite3 REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(tomlplusplus REQUIRED)
# libcrypto: HMAC-SHA256 for signed webhooks (lib/alerts/signature.cpp).
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
if(CAAD_TESTS)
  find_package(doctest REQUIRED)
endif()
