/*
 * accounts.h - generic account checks and account life cycle (create, close), plus the
 * clock and rent sysvars. Errors are builtin ProgramErrors (README.md has the table).
 */
#pragma once

#include "layouts.h"
#include "runtime.h"

/* Flags of one account slot, as in the spec's tables: W = writable, S = signer. */
#define W 1
#define S 2

/* At least `n` accounts, each with the flags the slot requires (extra accounts are ignored).
 * NotEnoughAccountKeys / MissingRequiredSignature / Immutable. */
uint64_t check_accounts(const Context *ctx, const uint8_t *flags, uint64_t n);

/* The account must be the program with this id (IncorrectProgramId). */
uint64_t require_program(const AccountInfo *a, const Pubkey *id);

/* The account must be writable (Immutable): for accounts receiving lamports on close. */
uint64_t require_writable(const AccountInfo *a);

/* Accounts of this program: owned by it (InvalidAccountOwner), long enough and with the right
 * discriminator (InvalidAccountData). */
uint64_t load_market(const Context *ctx, const AccountInfo *a, MarketAccount **out);
uint64_t load_job(const Context *ctx, const AccountInfo *a, JobAccount **out);
uint64_t load_run(const Context *ctx, const AccountInfo *a, RunAccount **out);

/* A fresh keypair account for a run: system-owned with no lamports (AccountAlreadyInitialized). */
uint64_t require_unused(const AccountInfo *a);

/* What create_account() needs; a struct because BPF calls take at most five arguments. */
typedef struct {
  AccountInfo *payer;         /* signer paying the rent */
  AccountInfo *target;        /* signer (keypair) or PDA (with seeds) */
  uint64_t space;
  const Pubkey *owner;        /* program that will own the account */
  const SignerSeeds *seeds;   /* PDA signer seeds, or NULL for a keypair */
} NewAccount;

/* Create a rent-exempt account through the System program. Like Anchor's `init`: an account
 * that already holds lamports (but no data) is topped up, allocated and assigned instead.
 * An account with data or another owner: AccountAlreadyInitialized. */
uint64_t create_account(const NewAccount *n);

/* Close a program account: lamports to `destination`, data cleared, owner back to System. */
uint64_t close_account(AccountInfo *a, AccountInfo *destination);

/* Lamports for rent exemption of `space` bytes (rent sysvar). */
uint64_t rent_exempt_minimum(uint64_t space);

/* Unix time from the clock sysvar. */
int64_t unix_now(void);
