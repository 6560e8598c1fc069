/* records.c - creating JobAccounts and RunAccounts (see records.h). */
#include "records.h"

#include "accounts.h"

uint64_t create_job(const NewJob *n) {
  NewAccount account = {n->payer, n->job, JOB_ACCOUNT_SIZE, n->ctx->program_id, NULL};
  TRY(create_account(&account));
  JobAccount *job = (JobAccount *)n->job->data; /* zero-filled by the System program */
  store_u64(&job->discriminator, DISC_JOB_ACCOUNT);
  for (int i = 0; i < 32; i += 8) {
    store_u64(job->ipfs_job + i, load_u64(n->ipfs_job + i));
  }
  key_copy(&job->market, n->market->key);
  key_copy(&job->payer, n->payer->key);
  store_u64(&job->price, load_u64(&n->state->job_price));
  key_copy(&job->project, n->project);
  job->state = JOB_QUEUED;
  store_i64(&job->timeout, n->timeout);
  return SUCCESS;
}

uint64_t create_run(const NewRun *n) {
  NewAccount account = {n->payer, n->run, RUN_ACCOUNT_SIZE, n->ctx->program_id, NULL};
  TRY(create_account(&account));
  RunAccount *run = (RunAccount *)n->run->data;
  store_u64(&run->discriminator, DISC_RUN_ACCOUNT);
  key_copy(&run->job, n->job);
  key_copy(&run->node, n->node);
  key_copy(&run->payer, n->payer->key);
  store_i64(&run->time, unix_now());
  return SUCCESS;
}
