// kafkajs against a real Runnel broker: produces its own records (plain and gzip, idempotent,
// acks=all), then reads the whole topic back through a consumer group (read_committed, as
// kafkajs defaults) and prints what it produced and what it read as one JSON line. The Rust
// test tests/integration/js_clients.rs starts the broker, produces the rest with librdkafka and checks the
// result. Usage: node readback.js BOOTSTRAP TOPIC RECORDS_ALREADY_PRODUCED
'use strict';
const { Kafka, CompressionTypes, logLevel } = require('kafkajs');

const [bootstrap, topic, already] = process.argv.slice(2);
const PER_CODEC = 100;
const READ_TIMEOUT_MS = 60000;

/** What the Rust side compares: a value as its first 32 characters and its length. */
function summary(buf) {
  if (buf === null || buf === undefined) return { v: null, len: -1 };
  const s = buf.toString();
  return { v: s.slice(0, 32), len: buf.length };
}

async function produceOwn(kafka) {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const produced = [];
  for (const [codec, name] of [[CompressionTypes.None, 'none'], [CompressionTypes.GZIP, 'gzip']]) {
    const messages = [];
    for (let i = 0; i < PER_CODEC; i++) {
      const v = `js-${name}-${i}`;
      messages.push({ key: v, value: v, headers: { idx: `${i}` } });
    }
    const acks = await producer.send({ topic, compression: codec, acks: -1, messages });
    for (const a of acks) {
      if (a.errorCode !== 0) throw new Error(`produce error ${a.errorCode} on ${a.partition}`);
    }
    produced.push(...messages.map((m) => m.value));
  }
  await producer.disconnect();
  return produced;
}

async function readAll(kafka, want) {
  const consumer = kafka.consumer({ groupId: 'js-readback', readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = [];
  let complete = false;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, READ_TIMEOUT_MS);
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          const s = summary(message.value);
          seen.push({
            p: partition,
            o: Number(message.offset),
            k: message.key === null ? null : message.key.toString(),
            v: s.v,
            len: s.len,
            h: Object.keys(message.headers || {}).length,
          });
          if (seen.length >= want && !complete) {
            complete = true;
            clearTimeout(timer);
            // A moment longer, so duplicates or aborted records would show up too.
            setTimeout(resolve, 1000);
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return seen;
}

async function main() {
  const kafka = new Kafka({
    clientId: 'runnel-js-readback',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    retry: { retries: 8 },
  });
  const produced = await produceOwn(kafka);
  const seen = await readAll(kafka, Number(already) + produced.length);
  process.stdout.write(JSON.stringify({ produced, seen }) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
