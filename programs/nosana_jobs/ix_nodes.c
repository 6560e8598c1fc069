/* ix_nodes.c - work, stop, claim, complete, finish and quit: jobs from the node's side. */
#include "eligibility.h"
#include "errors.h"
#include "ids.h"
#include "instructions.h"
#include "money.h"
#include "queue.h"
#include "records.h"
#include "token.h"

/* work: an eligible node takes the oldest waiting job (a run is created) or joins the queue. */
uint64_t process_work(Context *ctx) {
  ACCOUNTS(a, WorkAccounts, ctx, WORK_FLAGS);
  TRY(require_program(&a->system_program, &SYSTEM_PROGRAM_ID));
  TRY(require_unused(&a->run));
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));
  const Pubkey *node = a->authority.key;
  uint8_t type = queue_type(m);
  REQUIRE(type == QUEUE_JOB || queue_find(m, node) < 0, ERR_NODE_ALREADY_QUEUED);
  NodeProof proof = {&a->stake, &a->nft, &a->metadata, node};
  TRY(check_node_eligibility(m, &proof));
  if (type != QUEUE_JOB) {
    return queue_push(m, node, false);
  }
  Pubkey job;
  queue_pop_front(m, &job);
  NewRun run = {ctx, &a->payer, &a->run, &job, node};
  return create_run(&run);
}

/* stop: a node leaves the queue, by itself or removed by the market authority. */
uint64_t process_stop(Context *ctx) {
  ACCOUNTS(a, StopAccounts, ctx, STOP_FLAGS);
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));
  REQUIRE(queue_type(m) == QUEUE_NODE, ERR_MARKET_IN_WRONG_STATE);
  REQUIRE(key_eq(a->authority.key, &m->authority) || key_eq(a->authority.key, a->node.key),
          ERR_UNAUTHORIZED);
  return queue_remove(m, a->node.key);
}

/* claim: an eligible node takes over a stopped job (its previous node quit). */
uint64_t process_claim(Context *ctx) {
  ACCOUNTS(a, ClaimAccounts, ctx, CLAIM_FLAGS);
  TRY(require_program(&a->system_program, &SYSTEM_PROGRAM_ID));
  JobAccount *job;
  TRY(load_job(ctx, &a->job, &job));
  REQUIRE(key_eq(&job->market, a->market.key), ERR_INVALID_MARKET_ACCOUNT);
  REQUIRE(job->state == JOB_STOPPED, ERR_JOB_IN_WRONG_STATE);
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));
  NodeProof proof = {&a->stake, &a->nft, &a->metadata, a->authority.key};
  TRY(check_node_eligibility(m, &proof));
  NewRun run = {ctx, &a->payer, &a->run, a->job.key, a->authority.key};
  return create_run(&run);
}

/* complete: the node of an ended job publishes its result (once). */
uint64_t process_complete(Context *ctx) {
  ACCOUNTS(a, CompleteAccounts, ctx, COMPLETE_FLAGS);
  REQUIRE_ARGS(ctx, 32);
  const uint8_t *result = ARGS(ctx);
  JobAccount *job;
  TRY(load_job(ctx, &a->job, &job));
  REQUIRE(job->state == JOB_DONE, ERR_JOB_IN_WRONG_STATE);
  REQUIRE(key_eq(&job->node, a->authority.key), ERR_UNAUTHORIZED);
  REQUIRE(bytes32_is_zero(job->ipfs_result), ERR_JOB_RESULTS_ALREADY_SET);
  REQUIRE(!bytes32_is_zero(result), ERR_JOB_RESULT_NULL);
  for (int i = 0; i < 32; i += 8) {
    store_u64(job->ipfs_result + i, load_u64(result + i));
  }
  return SUCCESS;
}

/* Load a run and check it belongs to `job`, was paid by `payer` and is worked by `node`. */
static uint64_t load_node_run(const Context *ctx, const AccountInfo *run_account, const AccountInfo *job,
                              const AccountInfo *payer, const AccountInfo *node) {
  RunAccount *run;
  TRY(load_run(ctx, run_account, &run));
  REQUIRE(key_eq(&run->payer, payer->key), ERR_INVALID_PAYER);
  REQUIRE(key_eq(&run->job, job->key), ERR_INVALID_JOB_ACCOUNT);
  REQUIRE(key_eq(&run->node, node->key), ERR_UNAUTHORIZED);
  return SUCCESS;
}

/* finish: the node posts its result: the job is Done, the node is paid for the time used
 * into `user`, the rest of the deposit goes back to `deposit`, the run is closed. */
uint64_t process_finish(Context *ctx) {
  FinishAccounts legacy;
  FinishAccounts *a;
  if (ctx->num_accounts == sizeof(LEGACY_FINISH_FLAGS)) {
    ACCOUNTS(l, LegacyFinishAccounts, ctx, LEGACY_FINISH_FLAGS);
    JobAccount *listed;
    TRY(load_job(ctx, &l->job, &listed));
    REQUIRE(key_eq(&listed->project, l->project.key), ERR_JOB_INVALID_PROJECT);
    legacy = (FinishAccounts){l->job,     l->run,       l->market,    l->vault,     l->deposit,
                              l->user,    l->payer_run, l->payer_job, l->authority, l->token_program};
    a = &legacy;
  } else {
    ACCOUNTS(current, FinishAccounts, ctx, FINISH_FLAGS);
    a = current;
  }
  REQUIRE_ARGS(ctx, 32);
  const uint8_t *result = ARGS(ctx);
  TRY(require_program(&a->token_program, &TOKEN_PROGRAM_ID));
  JobAccount *job;
  TRY(load_job(ctx, &a->job, &job));
  REQUIRE(key_eq(&job->market, a->market.key), ERR_INVALID_MARKET_ACCOUNT);
  TRY(load_node_run(ctx, &a->run, &a->job, &a->payer_run, &a->authority));
  REQUIRE(key_eq(&job->payer, a->payer_job.key), ERR_INVALID_PAYER);
  REQUIRE(job->state != JOB_DONE, ERR_JOB_IN_WRONG_STATE);
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));
  REQUIRE(!bytes32_is_zero(result), ERR_JOB_RESULT_NULL);

  const RunAccount *run = (const RunAccount *)a->run.data;
  int64_t started = load_i64(&run->time), now = unix_now();
  for (int i = 0; i < 32; i += 8) {
    store_u64(job->ipfs_result + i, load_u64(result + i));
  }
  key_copy(&job->node, a->authority.key);
  job->state = JOB_DONE;
  store_i64(&job->time_end, now);
  store_i64(&job->time_start, started);
  if (load_u64(&job->price) > 0) {
    Vault v = {&a->token_program, &a->market, m, &a->vault};
    uint64_t payment, refund;
    TokenAccount *user;
    TRY(check_vault(&v));
    TRY(settle(job, started, now, &payment, &refund));
    TRY(load_nos_account(&a->user, &user)); /* the node signs: it may be paid anywhere */
    TRY(check_refund_account(job, &a->deposit));
    TRY(vault_pay(&v, &a->user, payment));
    TRY(vault_pay(&v, &a->deposit, refund));
  }
  return close_account(&a->run, &a->payer_run);
}

/* quit: the node gives up; the job is Stopped (another node may claim it). */
uint64_t process_quit(Context *ctx) {
  ACCOUNTS(a, QuitAccounts, ctx, QUIT_FLAGS);
  JobAccount *job;
  TRY(load_job(ctx, &a->job, &job));
  TRY(load_node_run(ctx, &a->run, &a->job, &a->payer, &a->authority));
  REQUIRE(job->state != JOB_DONE, ERR_JOB_IN_WRONG_STATE);
  job->state = JOB_STOPPED;
  return close_account(&a->run, &a->payer);
}
