/* ids.h - addresses that are the same on every network (the configurable ones: config.h). */
#pragma once

#include "runtime.h"

extern const Pubkey SYSTEM_PROGRAM_ID;   /* 11111111111111111111111111111111 = "open" access key */
extern const Pubkey TOKEN_PROGRAM_ID;    /* TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA */
extern const Pubkey METAPLEX_PROGRAM_ID; /* metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s */
extern const Pubkey RENT_SYSVAR_ID;      /* SysvarRent111111111111111111111111111111111 */
