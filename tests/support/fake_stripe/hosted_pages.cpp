// Stand-ins for Stripe's hosted pages (Checkout, the hosted invoice page), which live on Stripe's domains and can't
// be reached here: in the demo (fake-stripe with a hosted-pages base), Checkout Session and invoice URLs point at
// these, so a customer in a browser can pay, authenticate (3-D Secure) and come back. Not Stripe's API: plain HTML
// forms, under /_hosted/, answered without an API key (the customer has none).
#include "tests/support/fake_stripe/state.h"

#include <Poco/URI.h>

namespace billing::testing::fake {
namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

ScriptedResponse html(int status, const std::string& title, const std::string& body) {
  ScriptedResponse r;
  r.status = status;
  r.headers["Content-Type"] = "text/html; charset=utf-8";
  r.body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>" + escape(title) +
           "</title></head><body><main><h1>" + escape(title) + "</h1>" + body + "</main></body></html>";
  return r;
}

ScriptedResponse redirect(const std::string& to) {
  ScriptedResponse r;
  r.status = 303;
  r.headers["Location"] = to;
  r.headers["Content-Type"] = "text/plain";
  r.body = "";
  return r;
}

std::string money(std::int64_t minor, const std::string& currency) {
  return std::to_string(minor / 100) + "." + (minor % 100 < 10 ? "0" : "") + std::to_string(minor % 100) + " " + currency;
}

}  // namespace

std::optional<ScriptedResponse> hostedPage(State& s, const RecordedRequest& request) {
  const std::string path = Poco::URI(request.uri).getPath();
  if (path.rfind("/_hosted/", 0) != 0) return std::nullopt;
  std::vector<std::string> parts;  // _hosted, checkout|invoice, id[, pay]
  for (std::size_t start = 1; start <= path.size();) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  if (parts.size() < 3) return html(404, "Not found", "<p>No such page.</p>");
  const auto& id = parts[2];
  const bool pay = parts.size() == 4 && parts[3] == "pay" && request.method == "POST";
  if (parts[1] == "checkout") {
    auto* session = s.find("checkout.session", id);
    if (!session) return html(404, "Not found", "<p>No such Checkout Session.</p>");
    if (pay) {
      if ((*session)["status"] == "open") completeCheckoutSession(s, id);
      return redirect((*session)["success_url"].get<std::string>());
    }
    if ((*session)["status"] != "open") return html(410, "Checkout finished", "<p>This Checkout Session is no longer open.</p>");
    std::string lines;
    for (const auto& line : s.objects["checkout_lines"][id]["lines"]) {
      const auto* p = s.find("price", line["price"].get<std::string>());
      const auto* product = p ? s.find("product", (*p)["product"].get<std::string>()) : nullptr;
      lines += "<li>" + escape(product ? (*product)["name"].get<std::string>() : line["price"].get<std::string>()) + "</li>";
    }
    return html(200, "Subscribe", "<ul>" + lines + "</ul><form method=\"post\" action=\"/_hosted/checkout/" + escape(id) +
                                      "/pay\"><button type=\"submit\" id=\"pay\">Subscribe</button></form><p><a id=\"back\" href=\"" +
                                      escape((*session)["cancel_url"].get<std::string>()) + "\">Back</a></p>");
  }
  if (parts[1] == "invoice") {
    auto* invoice = s.find("invoice", id);
    if (!invoice) return html(404, "Not found", "<p>No such invoice.</p>");
    if (pay) {
      bool paid = payOpenInvoice(s, id);
      return html(paid ? 200 : 409, paid ? "Payment complete" : "Not payable",
                  paid ? "<p id=\"paid\">Paid. You can close this tab and return to the app.</p>"
                       : "<p id=\"not-payable\">This invoice can no longer be paid.</p>");
    }
    const std::string status = (*invoice)["status"];
    if (status != "open") return html(200, "Invoice " + status, "<p id=\"status\">This invoice is " + escape(status) + ".</p>");
    return html(200, "Pay invoice",
                "<p>" + escape(money((*invoice)["amount_due"].get<std::int64_t>(), (*invoice)["currency"])) +
                    " due. Your bank asks you to confirm this payment.</p><form method=\"post\" action=\"/_hosted/invoice/" +
                    escape(id) + "/pay\"><button type=\"submit\" id=\"pay\">Confirm and pay</button></form>");
  }
  return html(404, "Not found", "<p>No such page.</p>");
}

}  // namespace billing::testing::fake
