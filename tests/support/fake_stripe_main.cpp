// `fake-stripe`: the stateful Stripe fake as a process, seeded with the demo account (tests/support/demo_stripe.h).
// scripts/run.sh uses it as the Stripe API when no Stripe key is given, so plan changes, the portal and usage
// reporting work end to end in the demo; the browser tests use it through run.sh.
//   fake-stripe [--port N] [--state-file FILE] [--deliver-to PORT/PATH --webhook-secret-file FILE]
// With --state-file the account lives in FILE: loaded at start if it exists (else seeded and saved there), saved
// after every change (scripts/run.sh keeps it in .state/ beside the database). It prints "fake-stripe listening on http://127.0.0.1:N" and runs until SIGTERM/SIGINT. Its hosted-page stand-ins
// (Checkout, invoices) are served at that address; with --deliver-to, every event the fake emits from then on is
// delivered, signed, to the webhook receiver at 127.0.0.1:PORT/PATH, as Stripe would.
#include <csignal>
#include <fstream>
#include <memory>
#include <ctime>
#include <iostream>
#include <string>

#include "tests/support/demo_stripe.h"
#include "tests/support/event_delivery.h"
#include "tests/support/fake_stripe.h"

int main(int argc, char** argv) {
  int port = 0;
  std::string deliver_to, secret_file, state_file;
  const char* usage = "usage: fake-stripe [--port N] [--state-file FILE] [--deliver-to PORT/PATH --webhook-secret-file FILE]\n";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      const std::string value = argv[++i];
      if (value.empty() || value.size() > 5 || value.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(value) > 65535) {
        std::cerr << "fake-stripe: --port wants 0 to 65535, not '" << value << "'\n" << usage;
        return 2;
      }
      port = std::stoi(value);
    } else if (arg == "--state-file" && i + 1 < argc) {
      state_file = argv[++i];
    } else if (arg == "--deliver-to" && i + 1 < argc) {
      deliver_to = argv[++i];
    } else if (arg == "--webhook-secret-file" && i + 1 < argc) {
      secret_file = argv[++i];
    } else {
      std::cerr << usage;
      return 2;
    }
  }
  std::string secret;
  if (!deliver_to.empty()) {
    std::ifstream in(secret_file);
    std::getline(in, secret);
    secret = secret.substr(0, secret.find_first_of(", \t\r"));  // the first of the receiver's secrets
    if (secret.empty() || deliver_to.find('/') == std::string::npos) {
      std::cerr << "fake-stripe: --deliver-to PORT/PATH needs --webhook-secret-file with the receiver's secret\n";
      return 2;
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before the server's threads start, so they inherit it
  billing::testing::FakeStripe fake(port);
  bool loaded = false;
  if (!state_file.empty()) {
    try {
      loaded = fake.keepStateIn(state_file);
    } catch (const std::exception& e) {
      // Refused rather than started over: a new account beside the database of the old one is drift everywhere.
      std::cerr << "fake-stripe: can't load the saved account: " << e.what()
                << " (delete the state directory to start the demo over)" << std::endl;
      return 2;
    }
  }
  if (!loaded) {
    billing::testing::seedDemoAccount(fake, static_cast<std::int64_t>(std::time(nullptr)));
    fake.saveState();
  }
  fake.setHostedPagesBase(fake.baseUrl());
  std::unique_ptr<billing::testing::EventDelivery> delivery;
  if (!deliver_to.empty()) {
    const auto slash = deliver_to.find('/');
    delivery = std::make_unique<billing::testing::EventDelivery>(fake, std::stoi(deliver_to.substr(0, slash)),
                                                                 deliver_to.substr(slash), secret);
  }
  if (!state_file.empty()) {
    std::cout << "fake-stripe account " << (loaded ? "loaded from " : "new, saved in ") << state_file << std::endl;
  }
  std::cout << "fake-stripe listening on " << fake.baseUrl() << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  return 0;
}
