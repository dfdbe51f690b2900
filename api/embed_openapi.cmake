# Generates OUTPUT (a .cpp) with api/openapi.yaml as a string, so the executable serves it without files beside it.
cmake_minimum_required(VERSION 3.25)
file(READ ${INPUT} text)
if(text MATCHES "\\)openapi_yaml\"")
  message(FATAL_ERROR "openapi.yaml contains the embedding delimiter")
endif()
file(WRITE ${OUTPUT}.tmp "// Generated from api/openapi.yaml by api/embed_openapi.cmake. Do not edit.
#include \"api/api_handler.h\"

namespace billing::api {

const std::string& openApiDocument() {
  static const std::string document = R\"openapi_yaml(${text})openapi_yaml\";
  return document;
}

}  // namespace billing::api
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
