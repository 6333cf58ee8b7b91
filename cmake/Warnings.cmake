# caad_warnings: the warning set every caad target compiles with, as an
# INTERFACE target so that third-party code is not affected.
add_library(caad_warnings INTERFACE)
target_compile_options(caad_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
# -Wnull-dereference is left out: with g++ 12 at -O2 it reports false
# positives inside libstdc++'s std::string that no caad code can avoid.
if(CAAD_WERROR)
  target_compile_options(caad_warnings INTERFACE -Werror)
endif()

# Fuzzing builds instrument every caad library, not just the fuzz target, so
# that libFuzzer sees coverage inside the parsers and ASan guards them.
if(CAAD_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(CAAD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
