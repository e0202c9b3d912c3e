/* The release check's C program: gets a token as configured by SIGMA_BASE_URL,
 * SIGMA_CLIENT_ID and SIGMA_CLIENT_SECRET and prints it, for the check to call
 * /v2/whoami with. Built against each installed artifact (scripts/dist-check.sh). */
#include <stdio.h>

#include "sigma_auth.h"

int main(void) {
  sigma_config *config = NULL;
  sigma_client *client = NULL;
  sigma_token *token = NULL;
  sigma_error *error = NULL;
  int ok = sigma_config_from_env(&config, &error) == SIGMA_STATUS_OK &&
           sigma_client_new(config, &client, &error) == SIGMA_STATUS_OK &&
           sigma_client_token(client, &token, &error) == SIGMA_STATUS_OK;
  if (ok) {
    printf("%s %s\n", sigma_version(), sigma_token_access_token(token));
  } else {
    fprintf(stderr, "%s\n", sigma_error_message(error));
  }
  sigma_error_free(error);
  sigma_token_free(token);
  sigma_client_free(client);
  sigma_config_free(config);
  return ok ? 0 : 1;
}
