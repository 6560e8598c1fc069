/*
 * eligibility.h - may this node work on this market? (work, claim)
 *
 *  - stake: the PDA ["stake", NOS mint, node] of the staking program, owned by it, a
 *    StakeAccount whose authority is the node and whose xnos reaches the market's minimum;
 *  - on access-key markets (node_access_key is not the system program id): `nft` is a token
 *    account of the node holding at least one token, and `metadata` is the Metaplex metadata
 *    PDA of that token's mint, with a verified collection equal to the access key.
 */
#pragma once

#include "layouts.h"

typedef struct {
  const AccountInfo *stake;
  const AccountInfo *nft;
  const AccountInfo *metadata;
  const Pubkey *node;
} NodeProof;

uint64_t check_node_eligibility(const MarketAccount *m, const NodeProof *proof);
