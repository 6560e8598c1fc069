// Drives the local market with the official Nosana TypeScript SDK (@nosana/sdk 0.4.69), as a
// user would: the SDK fetches every IDL from chain (jobs, staking, rewards, pools, nodes).
// Calls: market and job reads, list -> work -> submitResult (finish) -> complete-state read,
// stake and node reads, parsed transactions, a NOS transfer, and a refused finish whose
// custom error the SDK (Anchor) names.
// Usage: node drive.mjs INPUT.json   (prints one JSON object on stdout)
import fs from "fs";
import { Client } from "@nosana/sdk";
import { PublicKey } from "@solana/web3.js";

const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const solana = {
  network: input.rpc_url,
  jobs_address: input.program_id,
  nos_address: input.nos_mint,
  market_address: input.market,
  stake_address: input.staking_program,
  rewards_address: input.rewards_program,
  nodes_address: input.nodes_program,
  pools_address: input.pools_program,
  pool_address: input.pool,
  priority_fee: 0,
  dynamicPriorityFee: false,
};
const secret = (path) => JSON.parse(fs.readFileSync(path, "utf8"));
const text = (value) => JSON.parse(JSON.stringify(value, (_, v) => (typeof v === "bigint" ? String(v) : v)));

async function main() {
  const client = new Client("devnet", secret(input.client_keypair), { solana });
  const node = new Client("devnet", secret(input.node_keypair), { solana });
  const stranger = new Client("devnet", secret(input.other_node_keypair), { solana });
  const out = {};

  const market = await client.jobs.getMarket(input.market);
  out.market = { authority: market.authority.toString(), vault: market.vault.toString(), jobPrice: market.jobPrice.toString() };

  const listed = await client.jobs.list(input.ipfs_cid, 600, input.market);
  out.listed = listed;
  out.worked = await node.jobs.work(input.market);
  const runs = await node.jobs.getRuns(listed.job);
  out.run = runs[0].publicKey.toString();
  try {
    await stranger.jobs.submitResult(input.result_bytes, out.run, input.market);
    out.refused = null;
  } catch (e) {
    out.refused = { code: e?.error?.errorCode?.code ?? null, number: e?.error?.errorCode?.number ?? null, message: String(e.message) };
  }
  out.finished = await node.jobs.submitResult(input.result_bytes, out.run, input.market);
  const job = await client.jobs.get(listed.job);
  out.job = { state: job.state, node: job.node.toString(), ipfsResult: job.ipfsResult, ipfsJob: job.ipfsJob };

  const stake = await node.stake.get(node.solana.wallet.publicKey);
  out.stake = text({ amount: stake.amount.toString(), xnos: stake.xnos.toString(), duration: stake.duration.toString(), vault: stake.vault.toString(), authority: stake.authority.toString() });
  out.nodes = (await node.nodes.all()).length;
  out.stakes = (await node.stake.all()).length;

  const parsed = await client.solana.getParsedTransactions([listed.tx], { maxSupportedTransactionVersion: 0 });
  out.parsed = text(parsed[0]);
  const recipient = new PublicKey(input.recipient);
  out.sent = await client.solana.sendNos(5_000_000, recipient);
  out.recipientBalance = text(await client.solana.getNosBalance(recipient));
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exit(1);
  },
);
