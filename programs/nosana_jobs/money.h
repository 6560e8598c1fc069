/*
 * money.h - the job's money, in NOS base units: price is per second.
 *   deposit = price x timeout                          (list, assign; extend adds the difference)
 *   payment = price x min(time_end - time_start, timeout)       (to the node on end/finish)
 *   refund  = deposit - payment                                  (back to the project)
 * With price 0 nothing moves and the token accounts are not looked at. The network fee is 0.
 */
#pragma once

#include "layouts.h"

/* price x seconds; negative seconds: InvalidArgument, overflow: ArithmeticOverflow. */
uint64_t price_times(uint64_t price, int64_t seconds, uint64_t *out);

/* Split a job's deposit into the node's payment and the refund for a run from time_start
 * to time_end (a clock that went backwards counts as 0 seconds). */
uint64_t settle(const JobAccount *job, int64_t time_start, int64_t time_end, uint64_t *payment,
                uint64_t *refund);

/* A refund destination: a NOS token account whose token owner is the job's project or payer
 * (InvalidArgument otherwise), so that no caller can redirect a refund. */
uint64_t check_refund_account(const JobAccount *job, const AccountInfo *a);

/* The signer among `first`/`second` whose key is the token owner of `from`: it authorizes a
 * deposit (InvalidArgument if neither). */
uint64_t deposit_authority(const AccountInfo *from, AccountInfo *first, AccountInfo *second,
                           AccountInfo **out);
