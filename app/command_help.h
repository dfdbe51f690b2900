#pragma once
#include <string>
#include <string_view>

#include "app/commands.h"

namespace billing::app {

/// The usage text `billing <command> --help` prints, or null for commands that print their own
/// (verify-signature, dlq, usage) or don't exist.
const std::string* commandHelp(std::string_view command);

/// True when the command's first argument asks for help (--help or -h).
bool asksForHelp(const Args& args);

}  // namespace billing::app
