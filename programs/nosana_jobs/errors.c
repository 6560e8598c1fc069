/* errors.c - names and messages of the custom errors, and their Anchor-style log line. */
#include "errors.h"

#include "runtime.h"

typedef struct {
  uint16_t code;
  const char *name;
  const char *message;
} CustomError;

static const CustomError ERRORS[] = {
    {6000, "InvalidMarketAccount", "The market account does not match the job's market."},
    {6001, "MarketInWrongState", "The market's queue is not in the state this instruction needs."},
    {6002, "NotInMarketQueue", "The job or node is not in the market's queue."},
    {6003, "InvalidJobAccount", "The job account does not match the run's job."},
    {6004, "JobInWrongState", "The job is not in the state this instruction needs."},
    {6005, "JobNotExpired", "The job has not expired yet."},
    {6006, "JobResultNull", "The job result must not be all zeros."},
    {6007, "JobInvalidProject", "The signer is not the job's project."},
    {6008, "JobTimeoutNotGreater", "The new timeout must be greater than the current one."},
    {6009, "JobInvalidRunAccount", "The run account does not belong to this job."},
    {6010, "JobResultsAlreadySet", "The job already has a result."},
    {6011, "NodeQueueDoesNotMatch", "The node queue does not match."},
    {6012, "NodeStakeUnauthorized", "The stake account does not belong to this node."},
    {6013, "NodeNotEnoughStake", "The node's stake is below the market's minimum."},
    {6014, "NodeAlreadyQueued", "The node is already in the market's queue."},
    {6015, "NodeNftWrongMetadata", "The metadata account is not the Metaplex metadata of the NFT."},
    {6016, "NodeNftWrongOwner", "The access NFT is not held by this node."},
    {6017, "NodeNftInvalidAmount", "The access NFT token account holds no token."},
    {6018, "NodeKeyInvalidCollection", "The NFT is not in the market's verified access-key collection."},
    {6100, "Unauthorized", "The signer may not perform this action."},
    {6101, "InvalidVault", "The vault is not the market's vault."},
    {6102, "InvalidPayer", "The payer is not the one recorded in the job or run."},
    {6103, "InvalidATA", "The token account is not a NOS account of the expected owner."},
    {6104, "InvalidMint", "The mint is not NOS."},
};

#define LINE_MAX 256

static uint64_t append(char *line, uint64_t n, const char *text) {
  while (*text && n < LINE_MAX) {
    line[n++] = *text++;
  }
  return n;
}

void log_custom_error(uint64_t result) {
  for (uint64_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++) {
    if (ERRORS[i].code != result) {
      continue;
    }
    char line[LINE_MAX];
    char number[5] = {0};
    for (int d = 3, code = ERRORS[i].code; d >= 0; d--, code /= 10) {
      number[d] = (char)('0' + code % 10);
    }
    uint64_t n = append(line, 0, "AnchorError occurred. Error Code: ");
    n = append(line, n, ERRORS[i].name);
    n = append(line, n, ". Error Number: ");
    n = append(line, n, number);
    n = append(line, n, ". Error Message: ");
    n = append(line, n, ERRORS[i].message);
    sol_log_(line, n);
    return;
  }
}
