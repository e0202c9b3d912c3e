/* A fork storm: six threads take and invalidate tokens on one client while the
 * main thread forks 100 children, each of which asks the same client for a token
 * under an 8 s alarm. A child that inherits a lock held by one of the threads, or
 * a request in flight, must still get its token: every child exits 0.
 * Usage: test_fork <mock base URL>. Built -Wall -Wextra -Wpedantic -Werror. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sigma_auth.h"

#define CHILDREN 100
#define THREADS 6

static atomic_int stop;

static void *churn(void *arg) {
  const sigma_client *client = (const sigma_client *)arg;
  for (long i = 0; !atomic_load(&stop); i++) {
    sigma_token *token = NULL;
    if (sigma_client_token(client, &token, NULL) != SIGMA_STATUS_OK) continue;
    if (i % 3 == 0) sigma_client_invalidate(client, sigma_token_access_token(token));
    sigma_token_free(token);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <mock base URL>\n", argv[0]);
    return 2;
  }
  sigma_config *config = NULL;
  sigma_client *client = NULL;
  if (sigma_config_new(argv[1], "demo-client", "demo-secret", &config, NULL) != SIGMA_STATUS_OK ||
      sigma_client_new(config, &client, NULL) != SIGMA_STATUS_OK) {
    fprintf(stderr, "cannot make the client\n");
    return 1;
  }
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, churn, client);

  int ok = 0, hung = 0, failed = 0;
  for (int i = 0; i < CHILDREN; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      alarm(8);
      sigma_token *token = NULL;
      sigma_status status = sigma_client_token(client, &token, NULL);
      int good = status == SIGMA_STATUS_OK && strncmp(sigma_token_access_token(token), "mock_at_", 8) == 0;
      _exit(good ? 0 : 1);
    }
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
      ok++;
    } else if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGALRM) {
      hung++;
    } else {
      failed++;
    }
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
  sigma_client_free(client);
  sigma_config_free(config);
  printf("fork storm: %d children got a token, %d hung, %d failed\n", ok, hung, failed);
  return ok == CHILDREN ? 0 : 1;
}
