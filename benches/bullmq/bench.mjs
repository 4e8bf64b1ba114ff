// The BullMQ side of the job queue benchmark (benches/jobs.sh, beside crates/bench-queue):
//
//   node bench.mjs add N     adds N no-op jobs with Queue.addBulk, CHUNK jobs a call
//   node bench.mjs drain N   one Worker (concurrency CONCURRENCY) runs N jobs, then closes
//
// Each prints one JSON line with its phase's wall time; the runner reads Redis's CPU time around
// each phase. Jobs are removed on completion (as Dragoman's queue does), so both keep nothing.
// Environment: REDIS_URL (default redis://127.0.0.1:6379/1), QUEUE_PREFIX (default bench-bullmq),
// CHUNK (1000), CONCURRENCY (100).
import { Queue, Worker } from 'bullmq';

const [mode, count] = process.argv.slice(2);
const n = Number.parseInt(count ?? '', 10);
if (!['add', 'drain'].includes(mode) || !Number.isInteger(n) || n < 0) {
  console.error('usage: node bench.mjs add|drain N');
  process.exit(2);
}
const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/1');
const connection = {
  host: url.hostname,
  port: Number(url.port || 6379),
  db: Number(url.pathname.slice(1) || 0),
  maxRetriesPerRequest: null,
};
const prefix = process.env.QUEUE_PREFIX ?? 'bench-bullmq';
const name = 'noop';
const chunk = Math.max(1, Number(process.env.CHUNK ?? 1000));
const concurrency = Math.max(1, Number(process.env.CONCURRENCY ?? 100));

let started;
if (mode === 'add') {
  const queue = new Queue(name, { connection, prefix });
  await queue.waitUntilReady();
  const opts = { removeOnComplete: true, removeOnFail: true };
  started = process.hrtime.bigint();
  for (let i = 0; i < n; i += chunk) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + chunk); j++) {
      jobs.push({ name, data: { i: j }, opts });
    }
    await queue.addBulk(jobs);
  }
  report();
  await queue.close();
} else {
  let done = 0;
  let finish;
  const finished = new Promise((resolve) => {
    finish = resolve;
  });
  const worker = new Worker(name, async () => {}, {
    connection,
    prefix,
    concurrency,
    autorun: false,
  });
  worker.on('completed', () => {
    done += 1;
    if (done === n) finish();
  });
  worker.on('failed', (job, err) => {
    console.error(`job ${job?.id} failed: ${err}`);
    process.exit(1);
  });
  await worker.waitUntilReady();
  started = process.hrtime.bigint();
  worker.run();
  if (n > 0) await finished;
  // Closing waits for the jobs in flight and their completion: part of the work, as in Dragoman's.
  await worker.close();
  report();
}

function report() {
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ impl: 'bullmq', phase: mode, jobs: n, secs, rate: n / secs }));
}
