# Generates OUTPUT (a .cpp) defining billing::schema::embeddedMigrations() from MIGRATIONS_DIR/NNNN_name.sql.
cmake_minimum_required(VERSION 3.25)
# Run at build time by schema/CMakeLists.txt; fails the build on a badly named file or a duplicate version.
file(GLOB files RELATIVE ${MIGRATIONS_DIR} ${MIGRATIONS_DIR}/*.sql)
list(SORT files)
set(entries "")
set(seen "")
foreach(file IN LISTS files)
  if(NOT file MATCHES "^([0-9][0-9][0-9][0-9])_([a-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "schema/migrations/${file}: name must be NNNN_lowercase_words.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  if(version IN_LIST seen)
    message(FATAL_ERROR "schema/migrations: version ${CMAKE_MATCH_1} is used twice")
  endif()
  list(APPEND seen ${version})
  string(REGEX REPLACE "\\.sql$" "" name "${file}")
  file(READ ${MIGRATIONS_DIR}/${file} sql)
  if(sql MATCHES "\\)billing_sql\"")
    message(FATAL_ERROR "schema/migrations/${file} contains the embedding delimiter")
  endif()
  string(APPEND entries "      {${version}, \"${name}\", R\"billing_sql(${sql})billing_sql\"},\n")
endforeach()
file(WRITE ${OUTPUT}.tmp "// Generated from schema/migrations by schema/embed_migrations.cmake. Do not edit.
#include \"schema/migrator.h\"

namespace billing::schema {

const std::vector<Migration>& embeddedMigrations() {
  static const std::vector<Migration> migrations = {
${entries}  };
  return migrations;
}

}  // namespace billing::schema
")
# Only touch the output when it changed, so unrelated builds don't recompile it.
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUTPUT}.tmp ${OUTPUT})
