// Drives the local market with the official Nosana TypeScript SDK (@nosana/sdk 0.4.69), as a
// user would: the SDK fetches every IDL from chain (jobs, staking, rewards, pools, nodes).
// Calls: market and job reads, list -> work -> submitResult (finish) -> complete-state read,
// stake and node reads, parsed transactions, NOS and SOL transfers, a refused finish whose
// custom error the SDK (Anchor) names; then every other jobs call on a market the admin opens
// (createMarket, updateMarket, allMarkets, extend, delist, stop, quit, end, complete, all,
// allFullJobs, getMultiple, getRun, getActiveRuns, cleanAdmin) and onProgramAccountChange.
// Usage: node drive.mjs INPUT.json   (prints one JSON object on stdout)
import fs from "fs";
import { Client } from "@nosana/sdk";
import { PublicKey, SystemProgram } from "@solana/web3.js";
import BN from "bn.js";

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
  out.stakeVault = await node.stake.getStakeVaultBalance(); // NOS (ui amount) the staking vault holds
  out.nodes = (await node.nodes.all()).length;
  out.stakes = (await node.stake.all()).length;

  const parsed = await client.solana.getParsedTransactions([listed.tx], { maxSupportedTransactionVersion: 0 });
  out.parsed = text(parsed[0]);
  const recipient = new PublicKey(input.recipient);
  out.sent = await client.solana.sendNos(5_000_000, recipient);
  out.recipientBalance = text(await client.solana.getNosBalance(recipient));
  out.solBefore = await client.solana.getSolBalance(recipient);
  out.solSent = await client.solana.sendSol(2_000_000, recipient);
  out.solAfter = await client.solana.getSolBalance(recipient);

  out.life = await lifecycle(client, node, secret);
  process.stdout.write(JSON.stringify(out) + "\n");
}

// The rest of the jobs program, on a market the admin opens with the SDK and prices: market
// admin calls, extend and delist of a queued job (deposits), stop of a queued node, a priced
// list that assigns a waiting node, quit, end and complete, clean by the admin, the job and run
// queries, and a program account subscription.
async function lifecycle(client, node, secret) {
  const admin = new Client("devnet", secret(input.admin_keypair), { solana });
  const life = {};
  const nos = async () => (await client.solana.getNosBalance(client.solana.wallet.publicKey)).amount;
  const created = await admin.jobs.createMarket({
    jobExpiration: new BN(1), jobPrice: new BN(5), jobTimeout: new BN(600), jobType: 0,
    nodeStakeMinimum: new BN(0), nodeAccessKey: SystemProgram.programId,
  });
  const market = created.market;
  await admin.jobs.updateMarket(market, { jobPrice: 10 });
  const priced = await admin.jobs.getMarket(market);
  life.market = { price: priced.jobPrice.toString(), timeout: priced.jobTimeout.toString(), authority: priced.authority.toString() };
  life.markets = (await client.jobs.allMarkets()).map((m) => m.address.toString());

  // a program account subscription hears of every job listed from here on
  const heard = new Set();
  const connection = client.solana.connection;
  const subscription = connection.onProgramAccountChange(new PublicKey(input.program_id), (info) => heard.add(info.accountId.toString()), "confirmed");

  // queued: extended (the difference deposited), then delisted (all refunded)
  const before = await nos();
  const queued = await client.jobs.list(input.ipfs_cid, 60, market);
  const afterList = await nos();
  await client.jobs.extend(queued.job, 90);
  const afterExtend = await nos();
  life.extended = String((await client.jobs.get(queued.job)).timeout);
  await client.jobs.delist(queued.job);
  life.deposits = { list: String(before - afterList), extend: String(afterList - afterExtend), refunded: String((await nos()) - before) };
  life.delistedGone = (await connection.getAccountInfo(new PublicKey(queued.job), "confirmed")) === null;

  // a queued node leaves the queue
  await node.jobs.work(market);
  life.queuedNodes = (await client.jobs.getMarket(market)).queue.length;
  await node.jobs.stop(market);
  life.queueAfterStop = (await client.jobs.getMarket(market)).queue.length;

  // a node waits; a priced list assigns it at once; it quits (the job is stopped)
  await node.jobs.work(market);
  const quitJob = await client.jobs.list(input.ipfs_cid, 60, market);
  const quitRuns = await node.jobs.getRuns(quitJob.job);
  life.assignedRun = quitRuns.length === 1 && quitRuns[0].account.node.toString() === node.solana.wallet.publicKey.toString();
  life.activeRuns = (await client.jobs.getActiveRuns()).map((r) => r.publicKey.toString());
  life.run = (await node.jobs.getRun(quitRuns[0].publicKey)).account.job.toString() === quitJob.job;
  await node.jobs.quit(quitRuns[0].publicKey);
  life.quitState = (await client.jobs.get(quitJob.job)).state;

  // a running job ended by its poster, then completed with a result by its node
  await node.jobs.work(market);
  const ended = await client.jobs.list(input.ipfs_cid, 60, market);
  await client.jobs.end(ended.job);
  const endedJob = await client.jobs.get(ended.job);
  life.endedState = endedJob.state;
  await node.jobs.complete(input.result_bytes, ended.job);
  life.completed = (await client.jobs.get(ended.job)).ipfsResult;

  const all = await client.jobs.all({ market: new PublicKey(market) });
  life.all = all.map((j) => [j.pubkey.toString(), j.state]);
  life.full = (await client.jobs.allFullJobs()).filter((j) => j.market.toString() === market).length;
  life.multiple = (await client.jobs.getMultiple([quitJob.job, ended.job])).map((j) => j.state);
  await admin.jobs.cleanAdmin(ended.job);
  life.cleanedGone = (await connection.getAccountInfo(new PublicKey(ended.job), "confirmed")) === null;

  const deadline = Date.now() + 20_000;
  while (!(heard.has(quitJob.job) && heard.has(ended.job)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await connection.removeProgramAccountChangeListener(subscription);
  life.heard = [queued.job, quitJob.job, ended.job].map((job) => heard.has(job));
  life.jobs = { queued: queued.job, quit: quitJob.job, ended: ended.job, market };
  return life;
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exit(1);
  },
);
