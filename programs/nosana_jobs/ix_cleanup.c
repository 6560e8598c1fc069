/* ix_cleanup.c - quit_admin, clean and clean_admin: closing what is no longer needed. */
#include "config.h"
#include "errors.h"
#include "instructions.h"

static uint64_t require_admin(const AccountInfo *authority) {
  REQUIRE(key_eq(authority->key, &config()->market_admin), ERR_UNAUTHORIZED);
  return SUCCESS;
}

/* quit_admin: the market admin closes any run (rent back to its payer). */
uint64_t process_quit_admin(Context *ctx) {
  ACCOUNTS(a, QuitAdminAccounts, ctx, QUIT_ADMIN_FLAGS);
  RunAccount *run;
  TRY(load_run(ctx, &a->run, &run));
  REQUIRE(key_eq(&run->payer, a->payer.key), ERR_INVALID_PAYER);
  TRY(require_admin(&a->authority));
  return close_account(&a->run, &a->payer);
}

/* clean: anyone closes a job that has been Done for longer than the market's job_expiration. */
uint64_t process_clean(Context *ctx) {
  ACCOUNTS(a, CleanAccounts, ctx, CLEAN_FLAGS);
  JobAccount *job;
  TRY(load_job(ctx, &a->job, &job));
  REQUIRE(key_eq(&job->payer, a->payer.key), ERR_INVALID_PAYER);
  REQUIRE(key_eq(&job->market, a->market.key), ERR_INVALID_MARKET_ACCOUNT);
  REQUIRE(job->state == JOB_DONE, ERR_JOB_IN_WRONG_STATE);
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));
  int64_t since_end = unix_now() - load_i64(&job->time_end);
  REQUIRE(load_i64(&m->job_expiration) < since_end, ERR_JOB_NOT_EXPIRED);
  return close_account(&a->job, &a->payer);
}

/* clean_admin: the market admin closes any job (rent back to its payer). */
uint64_t process_clean_admin(Context *ctx) {
  ACCOUNTS(a, CleanAdminAccounts, ctx, CLEAN_ADMIN_FLAGS);
  JobAccount *job;
  TRY(load_job(ctx, &a->job, &job));
  REQUIRE(key_eq(&job->payer, a->payer.key), ERR_INVALID_PAYER);
  TRY(require_admin(&a->authority));
  return close_account(&a->job, &a->payer);
}
