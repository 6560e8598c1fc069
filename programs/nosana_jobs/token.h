/*
 * token.h - SPL Token accounts and the CPIs that move NOS: deposits into a market's vault,
 * payments and refunds out of it (signed by the vault PDA), creating and closing the vault.
 */
#pragma once

#include "layouts.h"

/* An initialized SPL token account (InvalidAccountOwner / InvalidAccountData /
 * UninitializedAccount) of the configured NOS mint (InvalidArgument). */
uint64_t load_nos_account(const AccountInfo *a, TokenAccount **out);

/* Any initialized SPL token account (used for the access-key NFT). */
uint64_t load_token_account(const AccountInfo *a, TokenAccount **out);

/* A market's vault and what is needed to sign for it: seeds [market, mint, [vault_bump]]. */
typedef struct {
  AccountInfo *token_program;
  const AccountInfo *market; /* the market account; its key seeds the vault */
  const MarketAccount *state;
  AccountInfo *vault;
} Vault;

/* The vault account must be the market's (InvalidArgument) and a NOS token account. */
uint64_t check_vault(const Vault *v);

/* `amount` from `from` (a NOS account whose token owner `authority` signed) into the vault.
 * InsufficientFunds when `from` holds less. Nothing happens for 0. */
uint64_t vault_deposit(const Vault *v, AccountInfo *from, AccountInfo *authority, uint64_t amount);

/* `amount` out of the vault into `to`, signed by the vault PDA. Nothing happens for 0. */
uint64_t vault_pay(const Vault *v, AccountInfo *to, uint64_t amount);

/* Empty the vault into `to` and close it, its rent going to `rent_to`. */
uint64_t vault_drain_and_close(const Vault *v, AccountInfo *to, AccountInfo *rent_to);

/* Initialize a freshly allocated vault account: mint NOS, token owner the vault itself. */
uint64_t vault_initialize(AccountInfo *vault, AccountInfo *mint);
