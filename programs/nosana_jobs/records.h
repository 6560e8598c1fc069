/* records.h - creating the program's JobAccounts and RunAccounts. */
#pragma once

#include "layouts.h"

typedef struct {
  const Context *ctx;
  AccountInfo *payer;          /* pays the rent, recorded as job.payer */
  AccountInfo *job;            /* fresh keypair account (signer) */
  const AccountInfo *market;
  const MarketAccount *state;  /* price comes from the market */
  const Pubkey *project;       /* the listing authority */
  const uint8_t *ipfs_job;     /* 32 bytes */
  int64_t timeout;
} NewJob;

/* A Queued job: ipfs_job, market, payer, price = market price, project, timeout; the rest 0. */
uint64_t create_job(const NewJob *n);

typedef struct {
  const Context *ctx;
  AccountInfo *payer; /* pays the rent, recorded as run.payer */
  AccountInfo *run;   /* fresh keypair account (signer) */
  const Pubkey *job;
  const Pubkey *node;
} NewRun;

/* RunAccount(job, node, payer, time = now). */
uint64_t create_run(const NewRun *n);
