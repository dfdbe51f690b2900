# Generates OUTPUT (a .cpp) holding the billing page's files (FILES, comma-separated names in SOURCE_DIR) as strings,
# so `billing api` serves them without files beside the executable.
cmake_minimum_required(VERSION 3.25)
set(body "")
string(REPLACE "," ";" files "${FILES}")
foreach(name ${files})
  file(READ ${SOURCE_DIR}/${name} text)
  if(text MATCHES "\\)web_asset\"")
    message(FATAL_ERROR "${name} contains the embedding delimiter")
  endif()
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  else()
    message(FATAL_ERROR "${name}: unknown content type")
  endif()
  string(APPEND body "      {\"${name}\", {\"${type}\", R\"web_asset(${text})web_asset\"}},\n")
endforeach()
file(WRITE ${OUTPUT}.tmp "// Generated from web/ by web/embed_web.cmake. Do not edit.
#include \"web/web_assets.h\"

#include <map>

namespace billing::web {

const WebAsset* findWebAsset(const std::string& name) {
  static const std::map<std::string, WebAsset> assets = {
${body}  };
  auto found = assets.find(name);
  return found == assets.end() ? nullptr : &found->second;
}

}  // namespace billing::web
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
