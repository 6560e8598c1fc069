/*
 * queue.h - the market's FIFO queue. It holds either jobs waiting for nodes (QUEUE_JOB) or
 * nodes waiting for jobs (QUEUE_NODE), oldest first; it is QUEUE_EMPTY when it holds nothing.
 */
#pragma once

#include "layouts.h"

/* The queue type as the program reads it: 0 Job, 1 Node, anything else Empty. */
uint8_t queue_type(const MarketAccount *m);

/* Position of `key` in the queue, or -1. */
int64_t queue_find(const MarketAccount *m, const Pubkey *key);

/* Append `key` (a job when is_job, a node otherwise). An empty queue takes that type.
 * A market whose job_type is Unknown never queues anything. A full queue (314 entries):
 * AccountDataTooSmall. */
uint64_t queue_push(MarketAccount *m, const Pubkey *key, bool is_job);

/* Take the oldest entry (the queue must not be empty); the queue becomes Empty after the last. */
void queue_pop_front(MarketAccount *m, Pubkey *out);

/* Remove `key` wherever it is (NotInMarketQueue if absent); Empty after the last. */
uint64_t queue_remove(MarketAccount *m, const Pubkey *key);
