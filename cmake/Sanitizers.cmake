# -DBILLING_SANITIZE=ON: ASan + UBSan on everything we build (tests included).
if(BILLING_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
