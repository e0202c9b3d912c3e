/* The whole C ABI exercised from C against a running sigma-mock.
 * Usage: test_abi <mock base URL> <URL of a mock that holds each token answer 500 ms>
 * Built with -Wall -Wextra -Wpedantic -Werror and run plain, under
 * AddressSanitizer+UBSan, and under valgrind by scripts/test-c.sh. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigma_auth.h"

static int passed, failed;

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (cond) {                                                             \
      passed++;                                                             \
    } else {                                                                \
      failed++;                                                             \
      fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
    }                                                                       \
  } while (0)

#define CHECK_STATUS(call, want)                                            \
  do {                                                                      \
    sigma_status got_ = (call);                                             \
    if (got_ == (want)) {                                                   \
      passed++;                                                             \
    } else {                                                                \
      failed++;                                                             \
      fprintf(stderr, "FAILED %s:%d: %s = %s, want %s\n", __FILE__, __LINE__, \
              #call, sigma_status_name(got_), sigma_status_name(want));     \
    }                                                                       \
  } while (0)

static const char *url;
static const char *slow_url;

static sigma_config *new_config(const char *secret) {
  sigma_config *config = NULL;
  CHECK_STATUS(sigma_config_new(url, "demo-client", secret, &config, NULL), SIGMA_STATUS_OK);
  return config;
}

static void test_get_and_accessors(void) {
  sigma_config *config = new_config("demo-secret");
  sigma_token *token = NULL;
  CHECK_STATUS(sigma_token_get(config, &token, NULL), SIGMA_STATUS_OK);
  CHECK(token != NULL);
  CHECK(strncmp(sigma_token_access_token(token), "mock_at_", 8) == 0);
  CHECK(sigma_token_refresh_token(token) != NULL);
  CHECK(strcmp(sigma_token_type(token), "bearer") == 0);
  CHECK(sigma_token_expires_in(token) == 3600);
  CHECK(sigma_token_expires_at(token) > 1700000000);
  sigma_token_free(token);
  sigma_config_free(config);
}

static void test_refresh_rotation_and_errors(void) {
  sigma_config *config = new_config("demo-secret");
  sigma_token *first = NULL, *second = NULL, *reused = NULL;
  sigma_error *error = NULL;
  CHECK_STATUS(sigma_token_get(config, &first, NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_token_refresh(config, sigma_token_refresh_token(first), &second, NULL), SIGMA_STATUS_OK);
  CHECK(strcmp(sigma_token_refresh_token(first), sigma_token_refresh_token(second)) != 0);

  CHECK_STATUS(sigma_token_refresh(config, sigma_token_refresh_token(first), &reused, &error),
               SIGMA_STATUS_INVALID_GRANT);
  CHECK(reused == NULL);
  CHECK(error != NULL);
  CHECK(sigma_error_code(error) == SIGMA_STATUS_INVALID_GRANT);
  CHECK(sigma_error_http_status(error) == 401);
  CHECK(sigma_error_request_id(error) != NULL);
  CHECK(strstr(sigma_error_message(error), "Invalid refresh token") != NULL);
  CHECK(strstr(sigma_error_message(error), sigma_token_refresh_token(first)) == NULL);
  sigma_error_free(error);

  sigma_token_free(first);
  sigma_token_free(second);
  sigma_config_free(config);
}

static void test_bad_credentials_and_input(void) {
  sigma_config *config = new_config("wrong-secret-value");
  sigma_token *token = NULL;
  sigma_error *error = NULL;
  CHECK_STATUS(sigma_token_get(config, &token, &error), SIGMA_STATUS_INVALID_CLIENT);
  CHECK(token == NULL);
  CHECK(strstr(sigma_error_message(error), "wrong-secret-value") == NULL);
  sigma_error_free(error);
  sigma_config_free(config);

  sigma_config *none = NULL;
  error = NULL;
  CHECK_STATUS(sigma_config_new("http://example.com", "a", "b", &none, &error), SIGMA_STATUS_INSECURE_URL);
  CHECK(none == NULL);
  sigma_error_free(error);
  CHECK_STATUS(sigma_config_new("aws-mars", "a", "b", &none, NULL), SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sigma_config_new(NULL, "a", "b", &none, NULL), SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sigma_config_new("aws-us-east", "\xff\xfe", "b", &none, NULL), SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sigma_config_new("aws-us-east", "", "b", &none, NULL), SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK(none == NULL);
  CHECK_STATUS(sigma_token_get(NULL, &token, NULL), SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sigma_client_token(NULL, &token, NULL), SIGMA_STATUS_INVALID_ARGUMENT);

  CHECK(sigma_token_access_token(NULL) == NULL);
  CHECK(sigma_error_message(NULL) == NULL);
  CHECK(sigma_error_code(NULL) == SIGMA_STATUS_INVALID_ARGUMENT);
  sigma_token_free(NULL);
  sigma_error_free(NULL);
  sigma_config_free(NULL);
  sigma_client_free(NULL);
  sigma_client_invalidate(NULL, NULL);
}

static void test_setters(void) {
  sigma_config *config = new_config("demo-secret");
  sigma_error *error = NULL;
  CHECK_STATUS(sigma_config_set_timeout_ms(config, 5000, NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_config_set_connect_timeout_ms(config, 2000, NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_config_set_max_attempts(config, 2, NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_config_set_refresh_margin_ms(config, 60000, NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_config_set_user_agent_suffix(config, "test_abi/1", NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_config_set_language(config, "c11", NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_config_set_basic_auth(config, 1, NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_config_set_timeout_ms(config, 0, &error), SIGMA_STATUS_INVALID_ARGUMENT);
  sigma_error_free(error);
  CHECK_STATUS(sigma_config_set_ca_file(config, "/nonexistent.pem", NULL), SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sigma_config_set_token_cache(config, NULL, NULL), SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sigma_config_set_token_cache(config, "", NULL), SIGMA_STATUS_INVALID_ARGUMENT);

  /* What the config says of itself: owned copies. */
  char *base = sigma_config_base_url(config), *id = sigma_config_client_id(config);
  char *cache = sigma_config_token_cache(config);
  CHECK(base != NULL && strcmp(base, url) == 0);
  CHECK(id != NULL && strcmp(id, "demo-client") == 0);
  CHECK(cache == NULL);
  CHECK(sigma_config_base_url(NULL) == NULL && sigma_config_client_id(NULL) == NULL);
  CHECK(sigma_config_token_cache(NULL) == NULL);
  sigma_string_free(base);
  sigma_string_free(id);
  /* A path is the system's bytes, UTF-8 or not, both ways. */
  CHECK_STATUS(sigma_config_set_token_cache(config, "/tmp/sigma-abi-\xff-cache", NULL), SIGMA_STATUS_OK);
  cache = sigma_config_token_cache(config);
  CHECK(cache != NULL && strcmp(cache, "/tmp/sigma-abi-\xff-cache") == 0);
  sigma_string_free(cache);
  CHECK_STATUS(sigma_config_set_token_cache(config, "/tmp/sigma-abi-cache", NULL), SIGMA_STATUS_OK);
  cache = sigma_config_token_cache(config);
  CHECK(cache != NULL && strcmp(cache, "/tmp/sigma-abi-cache") == 0);
  sigma_string_free(cache);

  sigma_token *token = NULL;
  CHECK_STATUS(sigma_token_get(config, &token, NULL), SIGMA_STATUS_OK);
  sigma_token_free(token);
  sigma_config_free(config);
}

static void *take_tokens(void *arg) {
  const sigma_client *client = (const sigma_client *)arg;
  for (int i = 0; i < 200; i++) {
    sigma_token *token = NULL;
    if (sigma_client_token(client, &token, NULL) != SIGMA_STATUS_OK) return (void *)1;
    if (strncmp(sigma_token_access_token(token), "mock_at_", 8) != 0) return (void *)1;
    sigma_token_free(token);
  }
  return NULL;
}

/* The token store's URL is checked when set; an error never repeats it (it may hold a password). */
static void test_token_store(void) {
  sigma_config *config = new_config("demo-secret");
  sigma_error *error = NULL;
  CHECK_STATUS(sigma_config_set_token_store(config, "redis://127.0.0.1:6379/1", NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_config_set_token_store(config, "rediss://u:hunter2@cache.internal", NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_config_set_token_store(config, "http://u:hunter2@h", &error), SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK(error != NULL && sigma_error_code(error) == SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK(error != NULL && strstr(sigma_error_message(error), "token store URL") != NULL);
  CHECK(error != NULL && strstr(sigma_error_message(error), "hunter2") == NULL);
  sigma_error_free(error);
  error = NULL;
  CHECK_STATUS(sigma_config_set_token_store(config, NULL, &error), SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK(error != NULL && strstr(sigma_error_message(error), "url") != NULL);
  sigma_error_free(error);
  CHECK_STATUS(sigma_config_set_token_store(NULL, "redis://h", NULL), SIGMA_STATUS_INVALID_ARGUMENT);
  sigma_config_free(config);
}

static void test_client_threads_and_invalidate(void) {
  sigma_config *config = new_config("demo-secret");
  sigma_client *client = NULL;
  CHECK_STATUS(sigma_client_new(config, &client, NULL), SIGMA_STATUS_OK);
  sigma_config_free(config);

  pthread_t threads[16];
  for (int i = 0; i < 16; i++) CHECK(pthread_create(&threads[i], NULL, take_tokens, client) == 0);
  for (int i = 0; i < 16; i++) {
    void *result = NULL;
    CHECK(pthread_join(threads[i], &result) == 0);
    CHECK(result == NULL);
  }

  sigma_token *first = NULL, *second = NULL;
  CHECK_STATUS(sigma_client_token(client, &first, NULL), SIGMA_STATUS_OK);
  CHECK(sigma_client_token_is_current(client, first) == 1);
  sigma_client_invalidate(client, sigma_token_access_token(first));
  CHECK(sigma_client_token_is_current(client, first) == 0);
  CHECK_STATUS(sigma_client_token(client, &second, NULL), SIGMA_STATUS_OK);
  CHECK(sigma_client_token_is_current(client, second) == 1);
  CHECK(sigma_client_token_is_current(NULL, second) == 0);
  CHECK(strcmp(sigma_token_access_token(first), sigma_token_access_token(second)) != 0);

  /* Serials identify tokens: larger for newer, equal for the same token. */
  sigma_token *again = NULL;
  CHECK_STATUS(sigma_client_token(client, &again, NULL), SIGMA_STATUS_OK);
  CHECK(sigma_token_serial(first) > 0);
  CHECK(sigma_token_serial(second) > sigma_token_serial(first));
  CHECK(sigma_token_serial(again) == sigma_token_serial(second));
  CHECK(sigma_token_serial(NULL) == 0);
  CHECK(sigma_client_serial_is_current(client, sigma_token_serial(second)) == 1);
  CHECK(sigma_client_serial_is_current(client, sigma_token_serial(first)) == 0);
  CHECK(sigma_client_serial_is_current(client, 0) == 0);
  CHECK(sigma_client_serial_is_current(NULL, sigma_token_serial(second)) == 0);
  sigma_token_free(again);
  sigma_client_free(client);
  /* Tokens outlive their client. */
  CHECK(strncmp(sigma_token_access_token(first), "mock_at_", 8) == 0);
  sigma_token_free(first);
  sigma_token_free(second);
}

static void *race_token_and_invalidate(void *arg) {
  const sigma_client *client = (const sigma_client *)arg;
  for (int i = 0; i < 300; i++) {
    sigma_token *token = NULL;
    if (sigma_client_token(client, &token, NULL) != SIGMA_STATUS_OK) return (void *)1;
    if (i % 50 == 0) sigma_client_invalidate(client, sigma_token_access_token(token));
    sigma_client_invalidate(client, "not-the-current-token");
    sigma_token_free(token);
  }
  return NULL;
}

/* Threads take, invalidate and free tokens in racing orders; the client is
 * freed last, while tokens from it are still alive. Run under ASan and valgrind. */
static void test_concurrent_stress(void) {
  sigma_config *config = new_config("demo-secret");
  sigma_client *client = NULL;
  CHECK_STATUS(sigma_client_new(config, &client, NULL), SIGMA_STATUS_OK);
  sigma_config_free(config);
  sigma_token *survivor = NULL;
  CHECK_STATUS(sigma_client_token(client, &survivor, NULL), SIGMA_STATUS_OK);

  pthread_t threads[8];
  for (int i = 0; i < 8; i++) CHECK(pthread_create(&threads[i], NULL, race_token_and_invalidate, client) == 0);
  for (int i = 0; i < 8; i++) {
    void *result = NULL;
    CHECK(pthread_join(threads[i], &result) == 0);
    CHECK(result == NULL);
  }
  sigma_client_free(client);
  CHECK(strncmp(sigma_token_access_token(survivor), "mock_at_", 8) == 0);
  sigma_token_free(survivor);
}

static void *wait_for_slow_token(void *arg) {
  const sigma_client *client = (const sigma_client *)arg;
  sigma_token *token = NULL;
  if (sigma_client_token(client, &token, NULL) != SIGMA_STATUS_OK) return (void *)1;
  int ok = strncmp(sigma_token_access_token(token), "mock_at_", 8) == 0;
  sigma_token_free(token);
  return ok ? NULL : (void *)1;
}

/* The client (and its config) are freed while eight threads are inside
 * sigma_client_token, one making the request and seven waiting for it: the calls
 * in flight finish with a token. Run under ASan and valgrind. */
static void test_free_while_calls_are_in_flight(void) {
  sigma_config *config = NULL;
  CHECK_STATUS(sigma_config_new(slow_url, "demo-client", "demo-secret", &config, NULL), SIGMA_STATUS_OK);
  sigma_client *client = NULL;
  CHECK_STATUS(sigma_client_new(config, &client, NULL), SIGMA_STATUS_OK);
  pthread_t threads[8];
  for (int i = 0; i < 8; i++) CHECK(pthread_create(&threads[i], NULL, wait_for_slow_token, client) == 0);
  struct timespec pause = {0, 150 * 1000 * 1000};
  nanosleep(&pause, NULL);
  sigma_client_free(client);
  sigma_config_free(config);
  for (int i = 0; i < 8; i++) {
    void *result = NULL;
    CHECK(pthread_join(threads[i], &result) == 0);
    CHECK(result == NULL);
  }
}

/* Acting as a user, and signing an embed URL. */
static void test_impersonation_and_embed(void) {
  sigma_config *config = new_config("demo-secret");
  sigma_client *admin = NULL, *viewer = NULL, *again = NULL;
  CHECK_STATUS(sigma_client_new(config, &admin, NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_client_impersonate(admin, "viewer@example.com", NULL, &viewer, NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_client_impersonate(admin, "viewer@example.com", NULL, &again, NULL), SIGMA_STATUS_OK);
  sigma_token *user = NULL, *same = NULL;
  CHECK_STATUS(sigma_client_token(viewer, &user, NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_client_token(again, &same, NULL), SIGMA_STATUS_OK);
  CHECK(user != NULL && same != NULL && sigma_token_serial(user) == sigma_token_serial(same));
  CHECK(user != NULL && strncmp(sigma_token_access_token(user), "mock_ut_", 8) == 0);
  CHECK(user != NULL && sigma_token_refresh_token(user) == NULL);
  sigma_token_free(user);
  sigma_token_free(same);
  sigma_client_free(again);
  sigma_client_free(admin); /* the derived client keeps it alive */
  sigma_token *after = NULL;
  CHECK_STATUS(sigma_client_token(viewer, &after, NULL), SIGMA_STATUS_OK);
  sigma_token_free(after);
  sigma_client_free(viewer);

  sigma_client *boss = NULL;
  sigma_error *error = NULL;
  sigma_client *admin2 = NULL;
  CHECK_STATUS(sigma_client_new(config, &admin2, NULL), SIGMA_STATUS_OK);
  CHECK_STATUS(sigma_client_impersonate(admin2, "admin@example.com", "tenant-1", &boss, NULL), SIGMA_STATUS_OK);
  sigma_token *none = NULL;
  CHECK_STATUS(sigma_client_token(boss, &none, &error), SIGMA_STATUS_FORBIDDEN);
  CHECK(none == NULL && sigma_error_http_status(error) == 403);
  CHECK(strcmp(sigma_status_name(SIGMA_STATUS_FORBIDDEN), "FORBIDDEN") == 0);
  sigma_error_free(error);
  sigma_client *bad = NULL;
  CHECK_STATUS(sigma_client_impersonate(admin2, "not an email", NULL, &bad, NULL), SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sigma_client_impersonate(NULL, "a@b.co", NULL, &bad, NULL), SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sigma_client_impersonate(admin2, NULL, NULL, &bad, NULL), SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK(bad == NULL);
  sigma_client_free(boss);
  sigma_client_free(admin2);

  sigma_token *once = NULL;
  CHECK_STATUS(sigma_token_impersonate(config, "viewer@example.com", NULL, &once, NULL), SIGMA_STATUS_OK);
  sigma_token_free(once);
  sigma_config_free(config);

  char *url = NULL;
  CHECK_STATUS(sigma_embed_sign_url("https://app.sigmacomputing.com/o/w", "demo-embed", "demo-embed-secret",
                                    "{\"sub\":\"viewer@example.com\",\"teams\":[\"Sales\"]}", 600, &url, NULL),
               SIGMA_STATUS_OK);
  CHECK(url != NULL && strstr(url, "?:jwt=") != NULL && strstr(url, "&:embed=true") != NULL);
  sigma_string_free(url);
  sigma_string_free(NULL);
  char *none_url = NULL;
  error = NULL;
  CHECK_STATUS(sigma_embed_sign_url("https://app.sigmacomputing.com/o/w", "demo-embed", "S3CRET",
                                    "{\"sub\":\"viewer@example.com\",\"teams\":7}", 600, &none_url, &error),
               SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK(none_url == NULL && strstr(sigma_error_message(error), "teams") != NULL);
  CHECK(strstr(sigma_error_message(error), "S3CRET") == NULL);
  sigma_error_free(error);
  CHECK_STATUS(sigma_embed_sign_url("https://a.example.com/w", "id", "s", "not json", 60, &none_url, NULL),
               SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sigma_embed_sign_url("https://a.example.com/w", "id", "s", "{\"sub\":\"a@b.co\"}", 0, &none_url, NULL),
               SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(sigma_embed_sign_url("https://a.example.com/w", "id", "s", "{\"sub\":\"a@b.co\"}", 60, NULL, NULL),
               SIGMA_STATUS_INVALID_ARGUMENT);
  CHECK(none_url == NULL);
}

/* Events reach a C callback with their fields; counters add up; after
 * unregistering, nothing more arrives. */
static int event_kinds[32], event_count;
static uint64_t obtained_serial;
static int saw_secret;

static void on_event(void *context, const sigma_event *event) {
  CHECK(context == (void *)&event_count);
  if (event_count < 32) event_kinds[event_count++] = (int)sigma_event_get_kind(event);
  if (sigma_event_get_kind(event) == SIGMA_EVENT_TOKEN_OBTAINED) {
    obtained_serial = sigma_event_serial(event);
    CHECK(strcmp(sigma_event_grant(event), "client_credentials") == 0);
    CHECK(sigma_event_expires_in(event) == 3600);
    CHECK(sigma_event_status(event) == SIGMA_STATUS_OK);
  }
  const char *message = sigma_event_message(event);
  if (message != NULL && strstr(message, "demo-secret") != NULL) saw_secret = 1;
}

static void test_events_and_stats(void) {
  sigma_config *config = new_config("demo-secret");
  CHECK_STATUS(sigma_config_set_event_callback(config, on_event, &event_count, NULL), SIGMA_STATUS_OK);
  sigma_client *client = NULL;
  CHECK_STATUS(sigma_client_new(config, &client, NULL), SIGMA_STATUS_OK);
  sigma_token *token = NULL;
  CHECK_STATUS(sigma_client_token(client, &token, NULL), SIGMA_STATUS_OK);
  CHECK(event_count == 2 && event_kinds[0] == SIGMA_EVENT_REFRESH_STARTED &&
        event_kinds[1] == SIGMA_EVENT_TOKEN_OBTAINED);
  CHECK(token != NULL && obtained_serial == sigma_token_serial(token));
  sigma_client_invalidate(client, sigma_token_access_token(token));
  CHECK(event_count == 3 && event_kinds[2] == SIGMA_EVENT_INVALIDATED);
  sigma_token_free(token);
  CHECK(strcmp(sigma_event_kind_name(SIGMA_EVENT_CACHE_BYPASSED), "CACHE_BYPASSED") == 0);
  CHECK(strcmp(sigma_event_kind_name(SIGMA_EVENT_STORE_HIT), "STORE_HIT") == 0);
  CHECK(strcmp(sigma_event_kind_name(SIGMA_EVENT_STORE_UNAVAILABLE), "STORE_UNAVAILABLE") == 0);
  CHECK(sigma_event_kind_is_warning(SIGMA_EVENT_STORE_UNAVAILABLE) == 1 &&
        sigma_event_kind_is_warning(SIGMA_EVENT_STORE_HIT) == 0);
  CHECK(strcmp(sigma_event_kind_name(99), "UNKNOWN") == 0);
  CHECK(sigma_event_serial(NULL) == 0 && sigma_event_message(NULL) == NULL);

  sigma_stats stats;
  memset(&stats, 0, sizeof stats);
  CHECK_STATUS(sigma_client_stats(client, &stats, sizeof stats, NULL), SIGMA_STATUS_OK);
  CHECK(stats.tokens_served == 1 && stats.client_credentials_ok == 1 && stats.invalidations == 1);
  CHECK(stats.last_success_unix_ms > 1700000000000LL && stats.last_failure_unix_ms == 0);
  uint64_t first_field = 0;
  CHECK_STATUS(sigma_client_stats(client, (sigma_stats *)&first_field, sizeof first_field, NULL), SIGMA_STATUS_OK);
  CHECK(first_field == 1); /* an older, shorter struct gets what it knows */
  CHECK_STATUS(sigma_client_stats(client, NULL, sizeof stats, NULL), SIGMA_STATUS_INVALID_ARGUMENT);

  sigma_event_callback_unregister(&event_count);
  CHECK_STATUS(sigma_client_token(client, &token, NULL), SIGMA_STATUS_OK);
  CHECK(event_count == 3);
  CHECK(!saw_secret);
  sigma_token_free(token);
  sigma_client_free(client);
  sigma_config_free(config);
}

/* What a binding reads instead of calling: the serial word, and the deadline
 * from sigma_client_fresh_until on sigma_monotonic_ns's clock. */
static void test_serial_word_and_fresh_until(void) {
  sigma_config *config = new_config("demo-secret");
  sigma_client *client = NULL;
  CHECK_STATUS(sigma_client_new(config, &client, NULL), SIGMA_STATUS_OK);
  sigma_config_free(config);
  const uint64_t *word = sigma_client_serial_word(client);
  CHECK(word != NULL && *word == 0);
  CHECK(sigma_client_serial_word(NULL) == NULL);
  sigma_token *token = NULL;
  CHECK_STATUS(sigma_client_token(client, &token, NULL), SIGMA_STATUS_OK);
  uint64_t serial = sigma_token_serial(token);
  CHECK(*word == serial);
  uint64_t now = sigma_monotonic_ns();
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t c_now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  CHECK(c_now >= now && c_now - now < 1000000000u); /* the same clock */
  uint64_t until = sigma_client_fresh_until(client, serial);
  /* A one-hour token: fresh until its refresh is due, 5 to 6 minutes before expiry. */
  CHECK(until > now + 3000ull * 1000000000u && until < now + 3600ull * 1000000000u);
  CHECK(sigma_client_fresh_until(client, serial + 1000) == 0);
  CHECK(sigma_client_fresh_until(NULL, serial) == 0);
  sigma_client_invalidate(client, sigma_token_access_token(token));
  CHECK(*word == 0);
  CHECK(sigma_client_fresh_until(client, serial) == 0);
  sigma_token_free(token);
  sigma_client_free(client);
  /* The word outlives the client and never shows its serial again. */
  CHECK(*word != serial);
}

static void test_names(void) {
  CHECK(strcmp(sigma_status_name(SIGMA_STATUS_OK), "OK") == 0);
  CHECK(strcmp(sigma_status_name(SIGMA_STATUS_RATE_LIMITED), "RATE_LIMITED") == 0);
  CHECK(strcmp(sigma_status_name(9999), "UNKNOWN") == 0);
  CHECK(strlen(sigma_version()) > 0);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <mock base URL> <slow mock base URL>\n", argv[0]);
    return 2;
  }
  url = argv[1];
  slow_url = argv[2];
  test_get_and_accessors();
  test_refresh_rotation_and_errors();
  test_bad_credentials_and_input();
  test_setters();
  test_token_store();
  test_client_threads_and_invalidate();
  test_concurrent_stress();
  test_free_while_calls_are_in_flight();
  test_impersonation_and_embed();
  test_events_and_stats();
  test_serial_word_and_fresh_until();
  test_names();
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
