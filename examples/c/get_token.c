/* Gets a Sigma API token with sigma-auth and prints how to use it.
 *
 * Credentials come from SIGMA_BASE_URL (URL or cloud name), SIGMA_CLIENT_ID
 * and SIGMA_CLIENT_SECRET. Build: see the Makefile at the repository root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigma_auth.h"

int main(void) {
  sigma_config *config = NULL;
  sigma_client *client = NULL;
  sigma_token *token = NULL;
  sigma_error *error = NULL;
  int exit_code = 1;

  if (sigma_config_from_env(&config, &error) != SIGMA_STATUS_OK) goto fail;
  if (sigma_client_new(config, &client, &error) != SIGMA_STATUS_OK) goto fail;
  if (sigma_client_token(client, &token, &error) != SIGMA_STATUS_OK) goto fail;

  /* Show only the start of the token: it is a credential. */
  printf("Got a %s token from %s, valid for %lld s.\n", sigma_token_type(token),
         getenv("SIGMA_BASE_URL"), (long long)sigma_token_expires_in(token));
  printf("Authorization: Bearer %.12s... (%zu characters)\n", sigma_token_access_token(token),
         strlen(sigma_token_access_token(token)));
  exit_code = 0;
  goto done;

fail:
  fprintf(stderr, "sigma-auth: %s\n", sigma_error_message(error));
done:
  sigma_error_free(error);
  sigma_token_free(token);
  sigma_client_free(client);
  sigma_config_free(config);
  return exit_code;
}
