/* ix_jobs.c - list, assign, delist, recover, extend and end: jobs from the project's side. */
#include "errors.h"
#include "ids.h"
#include "instructions.h"
#include "money.h"
#include "queue.h"
#include "records.h"
#include "token.h"

/* The deposit for a new job of `timeout` seconds on this market, and who authorizes moving it
 * from `user`: the signer (authority or payer) that owns that token account. Price 0: none. */
typedef struct {
  const Vault *vault;
  AccountInfo *user, *authority, *payer;
  uint64_t price;
  int64_t timeout;
} DepositRequest;

typedef struct {
  uint64_t amount;
  AccountInfo *authority;
} Deposit;

static uint64_t prepare_deposit(const DepositRequest *r, Deposit *out) {
  out->amount = 0;
  out->authority = NULL;
  if (r->price == 0) {
    return SUCCESS;
  }
  TRY(check_vault(r->vault));
  TRY(price_times(r->price, r->timeout, &out->amount));
  return deposit_authority(r->user, r->authority, r->payer, &out->authority);
}

/* list: create a job; the oldest waiting node gets a run at once, or the job joins the queue. */
uint64_t process_list(Context *ctx) {
  ACCOUNTS(a, ListAccounts, ctx, LIST_FLAGS);
  REQUIRE_ARGS(ctx, 40);
  const uint8_t *ipfs_job = ARGS(ctx);
  int64_t timeout = load_i64(ARGS(ctx) + 32);
  TRY(require_program(&a->token_program, &TOKEN_PROGRAM_ID));
  TRY(require_program(&a->system_program, &SYSTEM_PROGRAM_ID));
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));
  TRY(require_unused(&a->run));
  Vault v = {&a->token_program, &a->market, m, &a->vault};
  DepositRequest request = {&v, &a->user, &a->authority, &a->payer, load_u64(&m->job_price), timeout};
  Deposit deposit;
  TRY(prepare_deposit(&request, &deposit));

  NewJob job = {ctx, &a->payer, &a->job, &a->market, m, a->authority.key, ipfs_job, timeout};
  TRY(create_job(&job));
  if (queue_type(m) == QUEUE_NODE) {
    Pubkey node;
    queue_pop_front(m, &node);
    NewRun run = {ctx, &a->payer, &a->run, a->job.key, &node};
    TRY(create_run(&run));
  } else {
    TRY(queue_push(m, a->job.key, true));
  }
  return vault_deposit(&v, &a->user, deposit.authority, deposit.amount);
}

/* assign: create a job directly for a node waiting in the market's queue. */
uint64_t process_assign(Context *ctx) {
  ACCOUNTS(a, AssignAccounts, ctx, ASSIGN_FLAGS);
  REQUIRE_ARGS(ctx, 40);
  const uint8_t *ipfs_job = ARGS(ctx);
  int64_t timeout = load_i64(ARGS(ctx) + 32);
  TRY(require_program(&a->token_program, &TOKEN_PROGRAM_ID));
  TRY(require_program(&a->system_program, &SYSTEM_PROGRAM_ID));
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));
  REQUIRE(queue_type(m) == QUEUE_NODE, ERR_MARKET_IN_WRONG_STATE);
  Vault v = {&a->token_program, &a->market, m, &a->vault};
  DepositRequest request = {&v, &a->user, &a->authority, &a->payer, load_u64(&m->job_price), timeout};
  Deposit deposit;
  TRY(prepare_deposit(&request, &deposit));
  TRY(queue_remove(m, a->node.key));

  NewJob job = {ctx, &a->payer, &a->job, &a->market, m, a->authority.key, ipfs_job, timeout};
  TRY(create_job(&job));
  NewRun run = {ctx, &a->payer, &a->run, a->job.key, a->node.key};
  TRY(create_run(&run));
  return vault_deposit(&v, &a->user, deposit.authority, deposit.amount);
}

/* Load a job and check that it belongs to `market` and was listed by `authority`. */
static uint64_t load_project_job(const Context *ctx, const AccountInfo *job_account, const AccountInfo *market,
                                 const AccountInfo *authority, JobAccount **out) {
  TRY(load_job(ctx, job_account, out));
  REQUIRE(key_eq(&(*out)->market, market->key), ERR_INVALID_MARKET_ACCOUNT);
  REQUIRE(key_eq(&(*out)->project, authority->key), ERR_JOB_INVALID_PROJECT);
  return SUCCESS;
}

/* Refund a job's whole deposit (price x timeout) from the vault into `to`. */
static uint64_t refund_deposit(const Vault *v, const JobAccount *job, AccountInfo *to) {
  uint64_t price = load_u64(&job->price);
  if (price == 0) {
    return SUCCESS;
  }
  uint64_t amount;
  TRY(check_vault(v));
  TRY(price_times(price, load_i64(&job->timeout), &amount));
  TRY(check_refund_account(job, to));
  return vault_pay(v, to, amount);
}

/* delist: take a queued job off the market's job queue, refund it and close it. */
uint64_t process_delist(Context *ctx) {
  ACCOUNTS(a, DelistAccounts, ctx, DELIST_FLAGS);
  TRY(require_program(&a->token_program, &TOKEN_PROGRAM_ID));
  JobAccount *job;
  TRY(load_project_job(ctx, &a->job, &a->market, &a->authority, &job));
  REQUIRE(job->state == JOB_QUEUED, ERR_JOB_IN_WRONG_STATE);
  REQUIRE(key_eq(&job->payer, a->payer.key), ERR_INVALID_PAYER);
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));
  REQUIRE(queue_type(m) == QUEUE_JOB, ERR_MARKET_IN_WRONG_STATE);
  TRY(queue_remove(m, a->job.key));
  Vault v = {&a->token_program, &a->market, m, &a->vault};
  TRY(refund_deposit(&v, job, &a->deposit));
  return close_account(&a->job, &a->payer);
}

/* recover: refund a stopped job (its node quit) into `user` and close it. */
uint64_t process_recover(Context *ctx) {
  ACCOUNTS(a, RecoverAccounts, ctx, RECOVER_FLAGS);
  TRY(require_program(&a->token_program, &TOKEN_PROGRAM_ID));
  JobAccount *job;
  TRY(load_project_job(ctx, &a->job, &a->market, &a->authority, &job));
  REQUIRE(key_eq(&job->payer, a->payer.key), ERR_INVALID_PAYER);
  REQUIRE(job->state == JOB_STOPPED, ERR_JOB_IN_WRONG_STATE);
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));
  Vault v = {&a->token_program, &a->market, m, &a->vault};
  TRY(refund_deposit(&v, job, &a->user));
  return close_account(&a->job, &a->payer);
}

/* extend: give a queued or running job a longer timeout; the extra time is deposited. */
uint64_t process_extend(Context *ctx) {
  ACCOUNTS(a, ExtendAccounts, ctx, EXTEND_FLAGS);
  REQUIRE_ARGS(ctx, 8);
  int64_t timeout = load_i64(ARGS(ctx));
  TRY(require_program(&a->token_program, &TOKEN_PROGRAM_ID));
  JobAccount *job;
  TRY(load_project_job(ctx, &a->job, &a->market, &a->authority, &job));
  uint64_t price = load_u64(&job->price);
  REQUIRE(price == 0 || key_eq(&job->payer, a->payer.key), ERR_INVALID_PAYER);
  REQUIRE(job->state == JOB_QUEUED, ERR_JOB_IN_WRONG_STATE);
  int64_t current = load_i64(&job->timeout);
  REQUIRE(timeout > current, ERR_JOB_TIMEOUT_NOT_GREATER);
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));
  Vault v = {&a->token_program, &a->market, m, &a->vault};
  if (price > 0) {
    uint64_t amount;
    AccountInfo *depositor;
    TRY(check_vault(&v));
    TRY(price_times(price, timeout - current, &amount));
    TRY(deposit_authority(&a->user, &a->payer, &a->authority, &depositor));
    TRY(vault_deposit(&v, &a->user, depositor, amount));
  }
  store_i64(&job->timeout, timeout);
  return SUCCESS;
}

/* end: the project ends a running job: Done; the node is paid for the time used, the rest of
 * the deposit is refunded, the run is closed. */
uint64_t process_end(Context *ctx) {
  ACCOUNTS(a, EndAccounts, ctx, END_FLAGS);
  TRY(require_program(&a->token_program, &TOKEN_PROGRAM_ID));
  JobAccount *job;
  TRY(load_project_job(ctx, &a->job, &a->market, &a->authority, &job));
  RunAccount *run;
  TRY(load_run(ctx, &a->run, &run));
  REQUIRE(key_eq(&run->payer, a->payer.key), ERR_INVALID_PAYER);
  REQUIRE(key_eq(&run->job, a->job.key), ERR_INVALID_JOB_ACCOUNT);
  REQUIRE(job->state != JOB_DONE, ERR_JOB_IN_WRONG_STATE);
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));

  int64_t started = load_i64(&run->time), now = unix_now();
  job->state = JOB_DONE;
  store_i64(&job->time_start, started);
  store_i64(&job->time_end, now);
  key_copy(&job->node, &run->node);
  if (load_u64(&job->price) > 0) {
    Vault v = {&a->token_program, &a->market, m, &a->vault};
    uint64_t payment, refund;
    TokenAccount *user;
    TRY(check_vault(&v));
    TRY(settle(job, started, now, &payment, &refund));
    TRY(load_nos_account(&a->user, &user));
    REQUIRE(key_eq(&user->owner, &run->node), ERR_INVALID_ATA);
    TRY(check_refund_account(job, &a->deposit));
    TRY(vault_pay(&v, &a->user, payment));
    TRY(vault_pay(&v, &a->deposit, refund));
  }
  return close_account(&a->run, &a->payer);
}
