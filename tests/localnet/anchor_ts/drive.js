// Drives the local market with Anchor 0.29 as any Anchor client would: the IDL is fetched
// from chain, accounts are decoded by Anchor, list -> work -> finish are sent with .rpc().
// Usage: node drive.js INPUT.json   (prints one JSON object on stdout)
"use strict";
const fs = require("fs");
const anchor = require("@coral-xyz/anchor");
const { Connection, Keypair, PublicKey, SystemProgram } = require("@solana/web3.js");

const TOKEN_PROGRAM = new PublicKey("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
const REWARDS_PROGRAM = new PublicKey("nosRB8DUV67oLNrL45bo2pFLrmsWPiewe2Lk2DRNYCp");

function keypair(path) {
  return Keypair.fromSecretKey(Uint8Array.from(JSON.parse(fs.readFileSync(path, "utf8"))));
}

async function programFor(connection, programId, signer) {
  const provider = new anchor.AnchorProvider(connection, new anchor.Wallet(signer), {
    commitment: "confirmed",
  });
  const idl = await anchor.Program.fetchIdl(programId, provider);
  if (!idl) throw new Error("no IDL on chain for " + programId.toBase58());
  return new anchor.Program(idl, programId, provider);
}

async function main() {
  const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const connection = new Connection(input.rpc_url, { commitment: "confirmed", wsEndpoint: input.ws_url });
  const programId = new PublicKey(input.program_id);
  const client = keypair(input.client_keypair);
  const node = keypair(input.node_keypair);
  const market = new PublicKey(input.market);
  const vault = new PublicKey(input.vault);
  const asClient = await programFor(connection, programId, client);
  const asNode = await programFor(connection, programId, node);

  const m = await asClient.account.marketAccount.fetch(market);
  const job = Keypair.generate();
  const listRun = Keypair.generate();
  const workRun = Keypair.generate();
  const listed = await asClient.methods
    .list(Array.from(Buffer.from(input.ipfs_job, "hex")), new anchor.BN(600))
    .accounts({
      job: job.publicKey,
      market,
      run: listRun.publicKey,
      user: new PublicKey(input.client_nos),
      vault,
      payer: client.publicKey,
      rewardsReflection: Keypair.generate().publicKey,
      rewardsVault: Keypair.generate().publicKey,
      authority: client.publicKey,
      rewardsProgram: REWARDS_PROGRAM,
      tokenProgram: TOKEN_PROGRAM,
      systemProgram: SystemProgram.programId,
    })
    .signers([job, listRun])
    .rpc();
  const worked = await asNode.methods
    .work()
    .accounts({
      run: workRun.publicKey,
      market,
      payer: node.publicKey,
      stake: new PublicKey(input.node_stake),
      nft: new PublicKey(input.node_nos),
      metadata: Keypair.generate().publicKey,
      authority: node.publicKey,
      systemProgram: SystemProgram.programId,
    })
    .signers([workRun])
    .rpc();
  const run = await asNode.account.runAccount.fetch(workRun.publicKey);
  const finished = await asNode.methods
    .finish(Array.from(Buffer.from(input.ipfs_result, "hex")))
    .accounts({
      job: job.publicKey,
      run: workRun.publicKey,
      market,
      vault,
      deposit: new PublicKey(input.client_nos),
      user: new PublicKey(input.node_nos),
      payerRun: node.publicKey,
      payerJob: client.publicKey,
      authority: node.publicKey,
      tokenProgram: TOKEN_PROGRAM,
    })
    .rpc();
  const j = await asClient.account.jobAccount.fetch(job.publicKey);
  const out = {
    market: {
      authority: m.authority.toBase58(),
      jobPrice: m.jobPrice.toString(),
      jobTimeout: m.jobTimeout.toString(),
      vault: m.vault.toBase58(),
      queueType: m.queueType,
      queue: m.queue.map((k) => k.toBase58()),
    },
    run: { job: run.job.toBase58(), node: run.node.toBase58() },
    job: {
      address: job.publicKey.toBase58(),
      state: j.state,
      ipfsResult: Buffer.from(j.ipfsResult).toString("hex"),
      node: j.node.toBase58(),
    },
    signatures: [listed, worked, finished],
  };
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
    if (err && err.logs) process.stderr.write(err.logs.join("\n") + "\n");
    process.exit(1);
  },
);
