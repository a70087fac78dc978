// The chat page at GET /: plain HTML, CSS and JavaScript, no external resources (works
// offline and under the page's Content-Security-Policy). It talks to the same server's
// /v1/chat/completions with stream=true and renders the deltas as they arrive.
#include "server/web_page.h"

namespace dsvl::server {

const char* const kWebPage = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dsvl chat</title>
<style>
:root { --bg:#f6f7f9; --panel:#fff; --line:#dfe3e8; --text:#1d2530; --muted:#687384;
        --accent:#2f6fde; --user:#e8f0fe; --err:#fdecec; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, sans-serif; color:var(--text); background:var(--bg);
       height:100vh; display:flex; flex-direction:column; }
header { display:flex; align-items:center; gap:12px; padding:8px 16px; background:var(--panel);
         border-bottom:1px solid var(--line); }
header h1 { font-size:17px; margin:0; }
#status { color:var(--muted); font-size:13px; flex:1; }
#status.ok::before { content:"● "; color:#2a9d55; }
#status.bad::before { content:"● "; color:#d33; }
main { flex:1; display:flex; min-height:0; }
#settings { width:260px; padding:12px 16px; background:var(--panel); border-right:1px solid var(--line);
            overflow:auto; }
#settings.hidden { display:none; }
#settings label { display:block; font-size:13px; color:var(--muted); margin:10px 0 4px; }
#settings input, #settings textarea { width:100%; font:inherit; padding:6px; border:1px solid var(--line);
            border-radius:6px; }
#settings textarea { height:90px; resize:vertical; }
#chat { flex:1; display:flex; flex-direction:column; min-width:0; }
#messages { flex:1; overflow:auto; padding:16px; display:flex; flex-direction:column; gap:10px; }
.msg { max-width:820px; padding:10px 14px; border-radius:10px; background:var(--panel);
       border:1px solid var(--line); white-space:pre-wrap; overflow-wrap:anywhere; }
.msg.user { align-self:flex-end; background:var(--user); }
.msg.assistant { align-self:flex-start; }
.msg.error { align-self:flex-start; background:var(--err); border-color:#f3b5b5; }
.msg img { max-width:180px; max-height:180px; border-radius:6px; display:block; margin-bottom:6px; }
.msg .meta { color:var(--muted); font-size:12px; margin-top:6px; white-space:normal; }
.msg.streaming::after { content:"▍"; animation:blink 1s steps(1) infinite; }
@keyframes blink { 50% { opacity:0; } }
#composer { border-top:1px solid var(--line); background:var(--panel); padding:10px 16px; }
#attachments { display:flex; gap:8px; flex-wrap:wrap; }
.thumb { position:relative; }
.thumb img { height:64px; border-radius:6px; border:1px solid var(--line); display:block; }
.thumb button { position:absolute; top:-6px; right:-6px; border:none; border-radius:50%; width:20px;
                height:20px; background:#333; color:#fff; cursor:pointer; line-height:20px; padding:0; }
#row { display:flex; gap:8px; align-items:flex-end; margin-top:6px; }
#prompt { flex:1; font:inherit; padding:8px; border:1px solid var(--line); border-radius:8px;
          resize:none; min-height:44px; max-height:200px; }
button { font:inherit; padding:8px 14px; border-radius:8px; border:1px solid var(--line);
         background:var(--panel); cursor:pointer; }
button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
button:disabled { opacity:.5; cursor:default; }
#stop { display:none; background:#d33; color:#fff; border-color:#d33; }
body.busy #stop { display:inline-block; }
body.busy #send { display:none; }
.hint { color:var(--muted); font-size:12px; margin-top:4px; }
body.dragging #messages { outline:3px dashed var(--accent); outline-offset:-8px; }
</style>
</head>
<body>
<header>
  <h1>dsvl chat</h1>
  <span id="status">connecting…</span>
  <button id="toggle-settings" title="Settings">Settings</button>
  <button id="clear" title="Start a new chat">New chat</button>
</header>
<main>
  <aside id="settings">
    <label for="system">System prompt</label>
    <textarea id="system" placeholder="(the model's default)"></textarea>
    <label for="temperature">Temperature: <span id="temperature-value"></span></label>
    <input id="temperature" type="range" min="0" max="2" step="0.05" value="0.2">
    <label for="max-tokens">Max tokens</label>
    <input id="max-tokens" type="number" min="1" value="512">
    <label for="api-key">API key (if the server needs one)</label>
    <input id="api-key" type="password" autocomplete="off">
  </aside>
  <section id="chat">
    <div id="messages" aria-live="polite"></div>
    <div id="composer">
      <div id="attachments"></div>
      <div id="row">
        <button id="attach" title="Add images">Image…</button>
        <input id="file" type="file" accept="image/*" multiple hidden>
        <textarea id="prompt" rows="1" placeholder="Message (Enter sends, Shift+Enter new line; paste or drop images)"></textarea>
        <button id="send" class="primary">Send</button>
        <button id="stop">Stop</button>
      </div>
      <div class="hint" id="hint"></div>
    </div>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const state = { history: [], pending: [], controller: null, model: "" };
const settings = ["system", "temperature", "max-tokens", "api-key"];

function save() { for (const k of settings) localStorage.setItem("dsvl." + k, $(k).value); }
function restore() {
  for (const k of settings) { const v = localStorage.getItem("dsvl." + k); if (v !== null) $(k).value = v; }
  $("temperature-value").textContent = $("temperature").value;
}
function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function checkHealth() {
  try {
    const r = await fetch("/health");
    const st = $("status");
    if (r.ok) {
      const m = await fetch("/v1/models", { headers: headers() });
      if (m.ok) state.model = (await m.json()).data[0].id;
      st.textContent = state.model ? "ready: " + state.model : "ready";
      st.className = "ok";
      return;
    }
    st.textContent = r.status === 503 ? "loading the model…" : "server error " + r.status;
    st.className = "bad";
  } catch (e) { $("status").textContent = "server unreachable"; $("status").className = "bad"; }
  setTimeout(checkHealth, 1000);
}

function addBubble(role, text, images) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  for (const src of images || []) { const img = document.createElement("img"); img.src = src; div.appendChild(img); }
  const span = document.createElement("span");
  span.className = "text";
  span.textContent = text;
  div.appendChild(span);
  $("messages").appendChild(div);
  $("messages").scrollTop = $("messages").scrollHeight;
  return div;
}

function addImageFile(file) {
  if (!file || !file.type.startsWith("image/")) return;
  const reader = new FileReader();
  reader.onload = () => { state.pending.push(reader.result); renderAttachments(); };
  reader.readAsDataURL(file);
}
function renderAttachments() {
  const box = $("attachments");
  box.textContent = "";
  state.pending.forEach((src, i) => {
    const t = document.createElement("div");
    t.className = "thumb";
    const img = document.createElement("img");
    img.src = src;
    const x = document.createElement("button");
    x.textContent = "×";
    x.title = "Remove";
    x.onclick = () => { state.pending.splice(i, 1); renderAttachments(); };
    t.append(img, x);
    box.appendChild(t);
  });
}

function setBusy(busy) { document.body.classList.toggle("busy", busy); }

// Reads a server-sent event stream, calling onEvent with each parsed "data:" payload.
async function readSSE(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        onEvent(JSON.parse(data));
      }
    }
  }
}

async function send() {
  const text = $("prompt").value.trim();
  if (!text && state.pending.length === 0) return;
  if (state.controller) return;
  const images = state.pending.slice();
  const content = images.map((url) => ({ type: "image_url", image_url: { url } }));
  if (text) content.push({ type: "text", text });
  state.history.push({ role: "user", content });
  addBubble("user", text, images);
  $("prompt").value = "";
  state.pending = [];
  renderAttachments();
  save();

  const messages = [];
  const sys = $("system").value.trim();
  if (sys) messages.push({ role: "system", content: sys });
  messages.push(...state.history);
  const body = { model: state.model || "dsvl", messages, stream: true,
                 stream_options: { include_usage: true },
                 temperature: parseFloat($("temperature").value),
                 max_tokens: parseInt($("max-tokens").value, 10) || 512 };
  const bubble = addBubble("assistant", "");
  bubble.classList.add("streaming");
  const out = bubble.querySelector(".text");
  state.controller = new AbortController();
  setBusy(true);
  const t0 = performance.now();
  let answer = "", usage = null, finish = "";
  try {
    const r = await fetch("/v1/chat/completions", { method: "POST", headers: headers(),
                          body: JSON.stringify(body), signal: state.controller.signal });
    if (!r.ok) {
      let msg = "HTTP " + r.status;
      try { msg += ": " + (await r.json()).error.message; } catch (e) {}
      throw new Error(msg);
    }
    await readSSE(r, (chunk) => {
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices && chunk.choices[0];
      if (!choice) return;
      if (choice.delta && choice.delta.content) {
        answer += choice.delta.content;
        out.textContent = answer;
        $("messages").scrollTop = $("messages").scrollHeight;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    });
  } catch (e) {
    if (e.name !== "AbortError") {
      bubble.className = "msg error";
      out.textContent = answer + (answer ? "\n" : "") + "Error: " + e.message;
    } else {
      finish = "stopped";
    }
  } finally {
    bubble.classList.remove("streaming");
    state.controller = null;
    setBusy(false);
  }
  state.history.push({ role: "assistant", content: answer });
  const secs = (performance.now() - t0) / 1000;
  const meta = document.createElement("div");
  meta.className = "meta";
  const parts = [finish || "done", secs.toFixed(1) + " s"];
  if (usage) parts.push(usage.prompt_tokens + " prompt + " + usage.completion_tokens + " tokens",
                        (usage.completion_tokens / Math.max(secs, 1e-3)).toFixed(1) + " tok/s");
  meta.textContent = parts.join(" · ");
  bubble.appendChild(meta);
}

$("send").onclick = send;
$("stop").onclick = () => { if (state.controller) state.controller.abort(); };
$("attach").onclick = () => $("file").click();
$("file").onchange = (e) => { for (const f of e.target.files) addImageFile(f); e.target.value = ""; };
$("prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
});
document.addEventListener("paste", (e) => {
  for (const item of (e.clipboardData && e.clipboardData.items) || [])
    if (item.kind === "file" && item.type.startsWith("image/")) { addImageFile(item.getAsFile()); e.preventDefault(); }
});
document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dragging"); });
document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
document.addEventListener("drop", (e) => {
  e.preventDefault();
  document.body.classList.remove("dragging");
  for (const f of e.dataTransfer.files) addImageFile(f);
});
$("temperature").oninput = () => { $("temperature-value").textContent = $("temperature").value; };
$("toggle-settings").onclick = () => $("settings").classList.toggle("hidden");
$("clear").onclick = () => {
  if (state.controller) state.controller.abort();
  state.history = [];
  $("messages").textContent = "";
};
for (const k of settings) $(k).addEventListener("change", save);
$("api-key").addEventListener("change", checkHealth);  // the model list may need the key
restore();
checkHealth();
</script>
</body>
</html>
)PAGE";

}  // namespace dsvl::server
