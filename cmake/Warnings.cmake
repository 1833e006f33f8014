# Project-wide warning flags; BULWARK_WERROR turns them into errors (CI does).
function(bulwark_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wcast-align -Wunused -Woverloaded-virtual
                                           -Wformat=2)
  if(BULWARK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
