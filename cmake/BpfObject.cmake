# bpf_object(<name> <source.bpf.c>)
#
# Compiles a BPF C program with clang -target bpf and generates its libbpf skeleton with
# `bpftool gen skeleton`. Produces an INTERFACE target `<name>_skel` whose include directory
# holds `<name>.skel.h`, linked to libbpf. The program includes bpf/vmlinux/bw_vmlinux.h (a
# small checked-in header), so no /sys/kernel/btf/vmlinux is needed at build time.
#
# Sets BULWARK_BPF_FOUND (cache) to whether clang, bpftool and libbpf were all found (and
# BULWARK_EBPF is ON); without them bpf_object() is a no-op and callers build without eBPF.

option(BULWARK_EBPF "Build the eBPF capture program (needs clang, bpftool, libbpf)" ON)

find_program(BULWARK_BPF_CLANG NAMES clang clang-16 clang-15 clang-14)
find_program(BULWARK_BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(LIBBPF QUIET IMPORTED_TARGET GLOBAL libbpf>=0.8)
endif()

if(BULWARK_EBPF AND BULWARK_BPF_CLANG AND BULWARK_BPFTOOL AND LIBBPF_FOUND)
  set(BULWARK_BPF_FOUND ON CACHE INTERNAL "clang, bpftool and libbpf present")
else()
  set(BULWARK_BPF_FOUND OFF CACHE INTERNAL "clang, bpftool and libbpf present")
  message(STATUS "eBPF capture disabled: BULWARK_EBPF=${BULWARK_EBPF}; it needs clang, bpftool "
                 "and libbpf-dev (scripts/deps/bpf.txt); clang=${BULWARK_BPF_CLANG} "
                 "bpftool=${BULWARK_BPFTOOL} libbpf=${LIBBPF_FOUND}")
endif()

# The host architecture as bpf_tracing.h spells it (only used by tracing helpers).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(_bw_bpf_arch x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(_bw_bpf_arch arm64)
else()
  set(_bw_bpf_arch ${CMAKE_SYSTEM_PROCESSOR})
endif()

function(bpf_object name src)
  if(NOT BULWARK_BPF_FOUND)
    return()
  endif()
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/${name})
  set(obj ${out_dir}/${name}.bpf.o)
  set(skel ${out_dir}/${name}.skel.h)
  get_filename_component(src_abs ${src} ABSOLUTE)
  file(GLOB _bw_bpf_headers ${CMAKE_CURRENT_SOURCE_DIR}/*.h ${CMAKE_CURRENT_SOURCE_DIR}/*/*.h)
  # libbpf's bpf_helpers.h; the program itself includes no system or kernel headers.
  set(_incs "-I${CMAKE_CURRENT_SOURCE_DIR}")
  foreach(dir ${LIBBPF_INCLUDE_DIRS})
    list(APPEND _incs "-idirafter${dir}")
  endforeach()
  list(APPEND _incs "-idirafter/usr/include")
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${BULWARK_BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${_bw_bpf_arch}
            -Wall -Werror ${_incs} -c ${src_abs} -o ${obj}
    DEPENDS ${src_abs} ${_bw_bpf_headers}
    COMMENT "BPF ${name}: clang -target bpf"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BULWARK_BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF ${name}: bpftool gen skeleton"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out_dir})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
