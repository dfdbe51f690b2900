#include <exception>
#include <iostream>

#include "app/commands.h"

int main(int argc, char** argv) {
  try {
    return billing::app::dispatch(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "billing: " << e.what() << "\n";
    return billing::app::kExitFailure;
  }
}
