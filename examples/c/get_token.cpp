// Gets a Sigma API token from C++ with RAII: every sigma-auth object is owned by
// a std::unique_ptr whose deleter is the matching _free, and errors become
// exceptions that carry the status.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include "sigma_auth.h"

namespace sigma {

struct ConfigDeleter { void operator()(sigma_config *p) const { sigma_config_free(p); } };
struct ClientDeleter { void operator()(sigma_client *p) const { sigma_client_free(p); } };
struct TokenDeleter { void operator()(sigma_token *p) const { sigma_token_free(p); } };
struct ErrorDeleter { void operator()(sigma_error *p) const { sigma_error_free(p); } };

class Error : public std::runtime_error {
 public:
  Error(sigma_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
  sigma_status status() const { return status_; }

 private:
  sigma_status status_;
};

// Throws when a call failed; takes ownership of its error object either way.
inline void check(sigma_status status, sigma_error *raw) {
  std::unique_ptr<sigma_error, ErrorDeleter> error(raw);
  if (status != SIGMA_STATUS_OK) throw Error(status, error ? sigma_error_message(error.get()) : "unknown error");
}

class Token {
 public:
  explicit Token(sigma_token *raw) : token_(raw) {}
  std::string access_token() const { return sigma_token_access_token(token_.get()); }
  long long expires_in() const { return sigma_token_expires_in(token_.get()); }

 private:
  std::unique_ptr<sigma_token, TokenDeleter> token_;
};

class Client {
 public:
  static Client from_env() {
    sigma_config *config = nullptr;
    sigma_error *error = nullptr;
    check(sigma_config_from_env(&config, &error), error);
    std::unique_ptr<sigma_config, ConfigDeleter> owned(config);
    sigma_client *client = nullptr;
    error = nullptr;
    check(sigma_client_new(owned.get(), &client, &error), error);
    return Client(client);
  }

  // Thread-safe: share one Client across threads.
  Token token() const {
    sigma_token *token = nullptr;
    sigma_error *error = nullptr;
    check(sigma_client_token(client_.get(), &token, &error), error);
    return Token(token);
  }

 private:
  explicit Client(sigma_client *raw) : client_(raw) {}
  std::unique_ptr<sigma_client, ClientDeleter> client_;
};

}  // namespace sigma

int main() {
  try {
    sigma::Client client = sigma::Client::from_env();
    sigma::Token token = client.token();
    std::cout << "Got a token valid for " << token.expires_in() << " s: Bearer "
              << token.access_token().substr(0, 12) << "... (" << token.access_token().size()
              << " characters)\n";
    return 0;
  } catch (const sigma::Error &e) {
    std::cerr << "sigma-auth (" << sigma_status_name(e.status()) << "): " << e.what() << "\n";
    return 1;
  }
}
