/* Benchmarks of the C ABI against sigma-mock. Prints one JSON object.
 *   bench cached  <url> <threads> <calls per thread>
 *   bench current <url> <threads> <calls per thread>
 *       (the "still current?" check a binding makes: sigma_client_serial_is_current)
 *   bench refresh <url> <threads> <seconds> [baseline]
 *       (mock started with a short --expires-in; "baseline" times the same loop
 *        without the library call: the machine's own scheduling noise)
 *   bench fresh   <url> <tokens>           (sigma_token_get on one config: stateless, kept-alive)
 *   bench fresh-client <url> <tokens>      (a client: invalidate, then sigma_client_token)
 *   bench one     <url>                    (peak RSS of a process that gets one token)
 * Timing only; no assertions: tests live elsewhere. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigma_auth.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static uint64_t percentile(uint64_t *sorted, size_t n, double p) {
  if (n == 0) return 0;
  size_t i = (size_t)(p * (double)(n - 1));
  return sorted[i];
}

static sigma_client *make_client(const char *url) {
  sigma_config *config = NULL;
  sigma_client *client = NULL;
  if (sigma_config_new(url, "demo-client", "demo-secret", &config, NULL) != SIGMA_STATUS_OK ||
      sigma_client_new(config, &client, NULL) != SIGMA_STATUS_OK) {
    fprintf(stderr, "cannot make a client for %s\n", url);
    exit(1);
  }
  sigma_config_free(config);
  return client;
}

struct cached_job {
  const sigma_client *client;
  long calls;
  uint64_t serial; /* "current" mode: the serial checked */
};

static void *cached_worker(void *arg) {
  struct cached_job *job = arg;
  for (long i = 0; i < job->calls; i++) {
    sigma_token *token = NULL;
    if (sigma_client_token(job->client, &token, NULL) != SIGMA_STATUS_OK) exit(1);
    sigma_token_free(token);
  }
  return NULL;
}

static void *current_worker(void *arg) {
  struct cached_job *job = arg;
  for (long i = 0; i < job->calls; i++) {
    if (!sigma_client_serial_is_current(job->client, job->serial)) exit(1);
  }
  return NULL;
}

static void bench_cached(const char *url, int threads, long calls, int current) {
  sigma_client *client = make_client(url);
  sigma_token *token = NULL;
  if (sigma_client_token(client, &token, NULL) != SIGMA_STATUS_OK) exit(1); /* warm: first fetch */
  struct cached_job job = {client, calls, sigma_token_serial(token)};
  sigma_token_free(token);
  cached_worker(&(struct cached_job){client, 1000, 0});
  pthread_t ids[256];
  uint64_t start = now_ns();
  for (int t = 0; t < threads; t++) pthread_create(&ids[t], NULL, current ? current_worker : cached_worker, &job);
  for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
  uint64_t elapsed = now_ns() - start;
  /* ns per call as each caller sees it: wall time over the calls one thread made. */
  printf("{\"suite\":\"cached\",\"lang\":\"c\",\"impl\":\"%s\",\"threads\":%d,\"calls\":%ld,"
         "\"ns_per_call\":%.1f,\"calls_per_sec\":%.0f}\n",
         current ? "sigma_client_serial_is_current" : "sigma_client_token + sigma_token_free", threads, calls * threads, (double)elapsed / (double)calls,
         (double)calls * threads / ((double)elapsed / 1e9));
  sigma_client_free(client);
}

struct refresh_job {
  const sigma_client *client;
  int baseline;
  uint64_t until;
  uint64_t *samples;
  size_t count, capacity;
};

static void *refresh_worker(void *arg) {
  struct refresh_job *job = arg;
  while (now_ns() < job->until) {
    sigma_token *token = NULL;
    uint64_t start = now_ns();
    if (!job->baseline && sigma_client_token(job->client, &token, NULL) != SIGMA_STATUS_OK) exit(1);
    uint64_t waited = now_ns() - start;
    sigma_token_free(token);
    if (job->count < job->capacity) job->samples[job->count++] = waited;
    /* A caller does other work between calls: 1 ms. */
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
  return NULL;
}

static void bench_refresh(const char *url, int threads, double seconds, int baseline) {
  sigma_client *client = make_client(url);
  sigma_token *first = NULL;
  sigma_client_token(client, &first, NULL);
  struct refresh_job jobs[256];
  pthread_t ids[256];
  uint64_t until = now_ns() + (uint64_t)(seconds * 1e9);
  for (int t = 0; t < threads; t++) {
    jobs[t] = (struct refresh_job){client, baseline, until, malloc(sizeof(uint64_t) * 2000000), 0, 2000000};
    pthread_create(&ids[t], NULL, refresh_worker, &jobs[t]);
  }
  size_t total = 0;
  for (int t = 0; t < threads; t++) {
    pthread_join(ids[t], NULL);
    total += jobs[t].count;
  }
  uint64_t *all = malloc(sizeof(uint64_t) * (total ? total : 1));
  size_t k = 0;
  for (int t = 0; t < threads; t++) {
    memcpy(all + k, jobs[t].samples, jobs[t].count * sizeof(uint64_t));
    k += jobs[t].count;
    free(jobs[t].samples);
  }
  qsort(all, total, sizeof(uint64_t), cmp_u64);
  sigma_token *last = NULL;
  sigma_client_token(client, &last, NULL);
  int changed = strcmp(sigma_token_access_token(first), sigma_token_access_token(last)) != 0;
  printf("{\"suite\":\"refresh\",\"lang\":\"c\",\"baseline\":%s,\"threads\":%d,\"calls\":%zu,\"p50_ns\":%llu,\"p99_ns\":%llu,"
         "\"p999_ns\":%llu,\"max_ns\":%llu,\"token_changed\":%s}\n",
         baseline ? "true" : "false", threads, total, (unsigned long long)percentile(all, total, 0.5),
         (unsigned long long)percentile(all, total, 0.99), (unsigned long long)percentile(all, total, 0.999),
         (unsigned long long)(total ? all[total - 1] : 0), changed ? "true" : "false");
  free(all);
  sigma_token_free(first);
  sigma_token_free(last);
  sigma_client_free(client);
}

static void bench_fresh(const char *url, long tokens) {
  sigma_config *config = NULL;
  if (sigma_config_new(url, "demo-client", "demo-secret", &config, NULL) != SIGMA_STATUS_OK) exit(1);
  uint64_t *samples = malloc(sizeof(uint64_t) * (size_t)tokens);
  uint64_t start = now_ns();
  for (long i = 0; i < tokens; i++) {
    sigma_token *token = NULL;
    uint64_t t0 = now_ns();
    if (sigma_token_get(config, &token, NULL) != SIGMA_STATUS_OK) exit(1);
    samples[i] = now_ns() - t0;
    sigma_token_free(token);
  }
  uint64_t elapsed = now_ns() - start;
  qsort(samples, (size_t)tokens, sizeof(uint64_t), cmp_u64);
  printf("{\"suite\":\"fresh\",\"lang\":\"c\",\"name\":\"sigma-auth sigma_token_get (C, stateless, kept-alive)\",\"tokens\":%ld,"
         "\"tokens_per_sec\":%.1f,\"p50_ns\":%llu,\"p99_ns\":%llu}\n",
         tokens, (double)tokens / ((double)elapsed / 1e9), (unsigned long long)percentile(samples, (size_t)tokens, 0.5),
         (unsigned long long)percentile(samples, (size_t)tokens, 0.99));
  free(samples);
  sigma_config_free(config);
}

/* A fresh token through a client each time: the token just obtained is
 * invalidated (as after a 401), so the next sigma_client_token fetches. */
static void bench_fresh_client(const char *url, long tokens) {
  sigma_client *client = make_client(url);
  uint64_t *samples = malloc(sizeof(uint64_t) * (size_t)tokens);
  uint64_t start = now_ns();
  for (long i = 0; i < tokens; i++) {
    sigma_token *token = NULL;
    uint64_t t0 = now_ns();
    if (sigma_client_token(client, &token, NULL) != SIGMA_STATUS_OK) exit(1);
    sigma_client_invalidate_serial(client, sigma_token_serial(token));
    samples[i] = now_ns() - t0;
    sigma_token_free(token);
  }
  uint64_t elapsed = now_ns() - start;
  qsort(samples, (size_t)tokens, sizeof(uint64_t), cmp_u64);
  printf("{\"suite\":\"fresh\",\"lang\":\"c\",\"name\":\"sigma-auth client: token + invalidate (C, kept-alive)\","
         "\"tokens\":%ld,\"tokens_per_sec\":%.1f,\"p50_ns\":%llu,\"p99_ns\":%llu}\n",
         tokens, (double)tokens / ((double)elapsed / 1e9), (unsigned long long)percentile(samples, (size_t)tokens, 0.5),
         (unsigned long long)percentile(samples, (size_t)tokens, 0.99));
  free(samples);
  sigma_client_free(client);
}

/* Gets one token the way the C example does, then reports the process's peak
 * RSS (VmHWM: counted from exec, so no parent's memory is included). */
static void bench_one(const char *url) {
  sigma_client *client = make_client(url);
  sigma_token *token = NULL;
  if (sigma_client_token(client, &token, NULL) != SIGMA_STATUS_OK) exit(1);
  sigma_token_free(token);
  sigma_client_free(client);
  FILE *status = fopen("/proc/self/status", "r");
  char line[256];
  long peak_kib = -1;
  while (status && fgets(line, sizeof line, status))
    if (sscanf(line, "VmHWM: %ld kB", &peak_kib) == 1) break;
  if (status) fclose(status);
  printf("{\"suite\":\"footprint\",\"what\":\"c_example_peak_rss_kib\",\"value\":%ld}\n", peak_kib);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "one") == 0) {
    bench_one(argv[2]);
    return 0;
  }
  if (argc < 4) {
    fprintf(stderr, "usage: bench cached|refresh|fresh <url> ...\n");
    return 2;
  }
  const char *mode = argv[1], *url = argv[2];
  if (strcmp(mode, "cached") == 0 && argc == 5) bench_cached(url, atoi(argv[3]), atol(argv[4]), 0);
  else if (strcmp(mode, "current") == 0 && argc == 5) bench_cached(url, atoi(argv[3]), atol(argv[4]), 1);
  else if (strcmp(mode, "refresh") == 0 && (argc == 5 || argc == 6))
    bench_refresh(url, atoi(argv[3]), atof(argv[4]), argc == 6 && strcmp(argv[5], "baseline") == 0);
  else if (strcmp(mode, "fresh") == 0) bench_fresh(url, atol(argv[3]));
  else if (strcmp(mode, "fresh-client") == 0) bench_fresh_client(url, atol(argv[3]));
  else return 2;
  return 0;
}
