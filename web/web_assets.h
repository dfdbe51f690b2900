#pragma once
#include <string>

namespace billing::web {

/// One file of the billing page (web/), compiled into the executable.
struct WebAsset {
  std::string content_type;
  std::string body;
};

/// The file called `name` (e.g. "index.html", "billing.js"), or null.
const WebAsset* findWebAsset(const std::string& name);

}  // namespace billing::web
