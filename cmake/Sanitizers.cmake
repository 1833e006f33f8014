# BULWARK_ASAN=ON builds everything with ASan + UBSan (tests run the same suites under it).
if(BULWARK_ASAN)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
