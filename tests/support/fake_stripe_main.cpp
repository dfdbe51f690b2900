// `fake-stripe`: the stateful Stripe fake as a process, seeded with the demo account (tests/support/demo_stripe.h).
// scripts/run.sh uses it as the Stripe API when no Stripe key is given, so plan changes, the portal and usage
// reporting work end to end in the demo; the browser tests use it through run.sh.
//   fake-stripe [--port N]    prints "fake-stripe listening on http://127.0.0.1:N", runs until SIGTERM/SIGINT
#include <csignal>
#include <ctime>
#include <iostream>
#include <string>

#include "tests/support/demo_stripe.h"
#include "tests/support/fake_stripe.h"

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      port = std::stoi(argv[++i]);
    } else {
      std::cerr << "usage: fake-stripe [--port N]\n";
      return 2;
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before the server's threads start, so they inherit it
  billing::testing::FakeStripe fake(port);
  billing::testing::seedDemoAccount(fake, static_cast<std::int64_t>(std::time(nullptr)));
  std::cout << "fake-stripe listening on " << fake.baseUrl() << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  return 0;
}
