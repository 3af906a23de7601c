# Module helper: nf_library(NAME x SRCS ... DEPS ... [PRIVATE_DEPS ...]) creates nf_x with alias nf::x.
# Every module links nf_warnings privately so warning flags live in one place.
add_library(nf_warnings INTERFACE)
target_compile_options(nf_warnings INTERFACE -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wpedantic)
if(NF_WERROR)
  target_compile_options(nf_warnings INTERFACE -Werror)
endif()

function(nf_library)
  cmake_parse_arguments(NF "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(nf_${NF_NAME} STATIC ${NF_SRCS})
  add_library(nf::${NF_NAME} ALIAS nf_${NF_NAME})
  target_include_directories(nf_${NF_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(nf_${NF_NAME} PUBLIC ${NF_DEPS} PRIVATE nf_warnings ${NF_PRIVATE_DEPS})
endfunction()
