# billing_warnings(target): the warning set for our own code (never for third-party headers).
function(billing_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
  if(BILLING_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
