#!/usr/bin/env node
// A bounded load test of an OpenAI-compatible server on loopback: N concurrent streamed
// chat completions, a share of them dropped mid-stream, then checks that every slot was
// freed, the server still answers and its RSS came back near the baseline.
//
// usage: node load_test.mjs [--url http://127.0.0.1:8080] [--key KEY] [--streams 64]
//          [--requests 256] [--warmup STREAMS] [--disconnect 0.25] [--max-seconds 240]
//          [--prompt TEXT] [--max-tokens 64] [--rss-slack-mb 32] [--seed 1] [--pid PID]
// A warm-up round (--warmup requests, 0 for none) lets pools and caches reach their steady
// size; the measured round follows. Memory is the server's VmRSS from /proc/PID/status with
// --pid (same machine), else its process_resident_memory_bytes metric, sampled every 100 ms
// for the peak. Everything is bounded: at most warmup + requests requests, and every request
// still open at --max-seconds is aborted (and counted as failed).
// With --pid the report also has the server's CPU time over the measured round (user +
// system, from /proc/PID/stat), which depends less on other load than wall-clock numbers.
// Exit status 0 when: no request failed (429s are counted, not failures), the server's
// active-request gauge returned to 0, /health is 200, and RSS grew < slack + 10%.
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const url = args.url || process.env.DSVL_URL || "http://127.0.0.1:8080";
const key = args.key || process.env.DSVL_API_KEY || "";
const streams = Number(args.streams || 64);
const total = Number(args.requests || 256);
const warmup = Number(args.warmup ?? streams);
const pid = args.pid ? Number(args.pid) : 0;
const dropShare = Number(args.disconnect || 0.25);
const maxSeconds = Number(args["max-seconds"] || 240);
const prompt = args.prompt || "Write a short poem about the sea.";
const maxTokens = Number(args["max-tokens"] || 64);
const slackMb = Number(args["rss-slack-mb"] || 32);
let seed = Number(args.seed || 1);
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

const headers = { "Content-Type": "application/json", ...(key ? { Authorization: "Bearer " + key } : {}) };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = Date.now() + maxSeconds * 1000;

async function metric(name) {
  const text = await (await fetch(url + "/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.split(" ")[1]) : NaN;
}

// The server's resident memory in bytes.
async function rss() {
  if (!pid) return metric("process_resident_memory_bytes");
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) * 1024 : NaN;
}

// One streamed request; `dropAfter` > 0 aborts after that many chunks.
async function one(dropAfter) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
  const t0 = performance.now();
  const out = { status: 0, ttft: null, latency: null, tokens: 0, dropped: false, error: null };
  try {
    const r = await fetch(url + "/v1/chat/completions", {
      method: "POST", headers, signal: controller.signal,
      body: JSON.stringify({ model: "dsvl", stream: true, stream_options: { include_usage: true },
                             max_tokens: maxTokens, temperature: 0.7,
                             messages: [{ role: "user", content: prompt }] }),
    });
    out.status = r.status;
    if (r.status !== 200) { await r.text(); return out; }
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "", chunks = 0, done = false;
    while (!done) {
      const { value, done: end } = await reader.read();
      if (end) break;
      buf += dec.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const data = buf.slice(0, cut).replace(/^data: /, "");
        buf = buf.slice(cut + 2);
        if (data === "[DONE]") { done = true; break; }
        const c = JSON.parse(data);
        if (c.error) throw new Error(c.error.message);
        if (c.usage) out.tokens = c.usage.completion_tokens;
        if (c.choices?.[0]?.delta?.content) {
          out.ttft ??= performance.now() - t0;
          chunks++;
          if (dropAfter > 0 && chunks >= dropAfter) {
            out.dropped = true;
            out.tokens = chunks;
            controller.abort();
            return out;
          }
        }
      }
    }
    if (!done) throw new Error("stream ended without [DONE]");
    out.latency = performance.now() - t0;
  } catch (e) {
    if (!out.dropped) out.error = String(e.message || e);
  } finally {
    clearTimeout(timer);
  }
  return out;
}

async function round(n, concurrency, share) {
  const results = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n && Date.now() < deadline) {
      next++;
      results.push(await one(rand() < share ? 1 + Math.floor(rand() * 10) : 0));
    }
  }));
  return { results, seconds: (performance.now() - t0) / 1000 };
}

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function settle() {
  for (let i = 0; i < 200; i++) {
    if ((await metric("dsvl_requests_active")) === 0) return true;
    await sleep(100);
  }
  return false;
}

// The server's user + system CPU seconds (null without --pid).
function cpuSeconds() {
  if (!pid) return null;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;  // utime, stime in USER_HZ ticks
}

const load = () => loadavg().map((x) => +x.toFixed(2));
const loadBefore = load();
const rssFresh = await rss();
if (warmup > 0) {
  await round(warmup, streams, dropShare);
  await settle();
  await sleep(500);
}
const rssBefore = await rss();
let rssPeak = rssBefore;
const sampler = setInterval(async () => { rssPeak = Math.max(rssPeak, await rss()); }, 100);
const cpuBefore = cpuSeconds();
const { results, seconds } = await round(total, streams, dropShare);
const cpuUsed = pid ? cpuSeconds() - cpuBefore : null;
clearInterval(sampler);
const loadDuring = load();
const freed = await settle();
await sleep(1000);
const rssAfter = await rss();
const health = (await fetch(url + "/health")).status;

const ok = results.filter((r) => r.status === 200 && !r.error && !r.dropped);
const dropped = results.filter((r) => r.dropped);
const rejected = results.filter((r) => r.status === 429);
const failed = results.filter((r) => r.error || (r.status !== 200 && r.status !== 429));
const tokens = results.reduce((s, r) => s + r.tokens, 0);
const ms = (xs, p) => { const v = pct(xs.filter((x) => x != null), p); return v == null ? null : Math.round(v); };
const mb = (b) => +(b / 2 ** 20).toFixed(1);
const report = {
  streams, requests: results.length, completed: ok.length, dropped: dropped.length,
  rejected_429: rejected.length, failed: failed.length, seconds: +seconds.toFixed(2),
  requests_per_s: +(results.length / seconds).toFixed(2), tokens: tokens,
  tokens_per_s: +(tokens / seconds).toFixed(1),
  server_cpu_s: cpuUsed == null ? null : +cpuUsed.toFixed(2),
  tokens_per_cpu_s: cpuUsed ? +(tokens / cpuUsed).toFixed(1) : null,
  latency_ms: { p50: ms(ok.map((r) => r.latency), 50), p95: ms(ok.map((r) => r.latency), 95),
                p99: ms(ok.map((r) => r.latency), 99) },
  ttft_ms: { p50: ms(results.map((r) => r.ttft), 50), p95: ms(results.map((r) => r.ttft), 95),
             p99: ms(results.map((r) => r.ttft), 99) },
  rss_mb: { source: pid ? `/proc/${pid}/status VmRSS` : "process_resident_memory_bytes",
            fresh: mb(rssFresh), before: mb(rssBefore), peak: mb(rssPeak), after: mb(rssAfter) },
  loadavg: { before: loadBefore, end_of_run: loadDuring },
  slots_freed: freed, health,
};
console.log(JSON.stringify(report, null, 2));
const rssOk = rssAfter - rssBefore < slackMb * 2 ** 20 + 0.1 * rssBefore;
const problems = [];
if (failed.length) problems.push(`${failed.length} failed: ${failed.slice(0, 3).map((r) => r.error || r.status).join("; ")}`);
if (!freed) problems.push("active requests did not return to 0");
if (health !== 200) problems.push("/health is " + health);
if (!rssOk) problems.push(`RSS grew from ${report.rss_mb.before} to ${report.rss_mb.after} MB`);
if (ok.length === 0) problems.push("no request completed");
if (problems.length) {
  console.error("load test FAILED: " + problems.join("; "));
  process.exit(1);
}
console.log("load test passed");
