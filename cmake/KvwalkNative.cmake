# Shared build logic for kvwalk's native addons (cmake-js + node-addon-api, Node-API only).
#
#   kvwalk_add_addon(NAME <target> SOURCES <cc files> [CUDA_SOURCES <cu files>])
#
# CUDA is compiled when CMake finds a CUDA compiler (nvcc on PATH or $CUDACXX) unless WITH_CUDA=OFF;
# the addon then carries sm_80/86/89/90 code plus compute_90 PTX and links cudart statically.
# Without CUDA the same target builds CPU-only and reports "not compiled" at run time.
include_guard(GLOBAL)
include(CheckLanguage)

set(WITH_CUDA "AUTO" CACHE STRING "Build CUDA kernels: AUTO (when nvcc is found), ON or OFF")
if(DEFINED ENV{WITH_CUDA} AND NOT "$ENV{WITH_CUDA}" STREQUAL "")
  set(WITH_CUDA "$ENV{WITH_CUDA}")
endif()
string(TOUPPER "${WITH_CUDA}" WITH_CUDA)

set(KVWALK_CUDA_ENABLED OFF)
if(NOT WITH_CUDA STREQUAL "OFF" AND NOT WITH_CUDA STREQUAL "0")
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES "80-real;86-real;89-real;90-real;90-virtual")
    endif()
    enable_language(CUDA)
    set(KVWALK_CUDA_ENABLED ON)
  elseif(WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "WITH_CUDA=ON but no CUDA compiler was found (set CUDACXX or put nvcc on PATH)")
  else()
    message(STATUS "kvwalk: no CUDA compiler found; building the CPU-only addon")
  endif()
endif()
message(STATUS "kvwalk: CUDA kernels ${KVWALK_CUDA_ENABLED} (WITH_CUDA=${WITH_CUDA})")

set(KVWALK_ROOT "${CMAKE_CURRENT_LIST_DIR}/..")

function(kvwalk_add_addon)
  cmake_parse_arguments(A "" "NAME" "SOURCES;CUDA_SOURCES;INCLUDE_DIRS" ${ARGN})
  set(srcs ${A_SOURCES} ${CMAKE_JS_SRC})
  if(KVWALK_CUDA_ENABLED)
    list(APPEND srcs ${A_CUDA_SOURCES})
  endif()
  add_library(${A_NAME} SHARED ${srcs})
  set_target_properties(${A_NAME} PROPERTIES PREFIX "" SUFFIX ".node" CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
  execute_process(COMMAND node -p "require('node-addon-api').include_dir"
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE NODE_ADDON_API_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
  target_include_directories(${A_NAME} PRIVATE ${CMAKE_JS_INC} ${NODE_ADDON_API_DIR}
    ${KVWALK_ROOT}/native-common/include ${CMAKE_SOURCE_DIR}/native/kernels ${A_INCLUDE_DIRS})
  target_compile_definitions(${A_NAME} PRIVATE NAPI_VERSION=8 NAPI_CPP_EXCEPTIONS NODE_ADDON_API_DISABLE_DEPRECATED)
  target_link_libraries(${A_NAME} PRIVATE ${CMAKE_JS_LIB})
  if(KVWALK_CUDA_ENABLED)
    set_target_properties(${A_NAME} PROPERTIES CUDA_RUNTIME_LIBRARY Static CUDA_STANDARD 17)
    target_compile_definitions(${A_NAME} PRIVATE KVWALK_WITH_CUDA=1)
    target_compile_options(${A_NAME} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -lineinfo>)
    find_package(CUDAToolkit REQUIRED)
    target_include_directories(${A_NAME} PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
    target_link_libraries(${A_NAME} PRIVATE CUDA::cudart_static)
  endif()
endfunction()
