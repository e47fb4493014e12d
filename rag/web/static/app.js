// rag serve: open citations beside the filing, ask, upload. Plain JS, no build step, nothing fetched from elsewhere.
// Filing text only ever enters the page as text (textContent, or HTML the server escaped).
"use strict";

// Offsets from the server count code points (Python); JavaScript strings count UTF-16 units.
function utf16Index(text, codePoints) {
  if (!/[\uD800-\uDBFF]/.test(text)) return codePoints;
  let i = 0;
  for (let n = 0; n < codePoints && i < text.length; n++) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
  }
  return i;
}

function placeStrip(root) {
  (root || document).querySelectorAll(".strip [data-top]").forEach((el) => {
    el.style.top = el.dataset.top + "%";
    if (el.dataset.height) el.style.height = el.dataset.height + "%";
  });
}

function showWindow() {
  const pre = document.getElementById("filing");
  const win = document.getElementById("strip-window");
  if (!pre || !win || !pre.scrollHeight) return;
  win.style.top = (100 * pre.scrollTop) / pre.scrollHeight + "%";
  win.style.height = Math.max(0.5, (100 * pre.clientHeight) / pre.scrollHeight) + "%";
}

function prepareReader() {
  const strip = document.getElementById("strip");
  const pre = document.getElementById("filing");
  if (!strip || !pre) return;
  placeStrip(strip);
  if (!document.getElementById("strip-window")) {
    const win = document.createElement("div");
    win.id = "strip-window";
    win.className = "window";
    strip.appendChild(win);
  }
  pre.addEventListener("scroll", showWindow, { passive: true });
  addTicks();
  const mark = document.getElementById("hl");
  if (mark) mark.scrollIntoView({ block: "center" });
  showWindow();
}

// One tick on the strip per summary sentence of the document shown, where its cited passage lies.
function addTicks() {
  const strip = document.getElementById("strip");
  const reader = document.getElementById("reader");
  if (!strip || !reader) return;
  strip.querySelectorAll(".tick").forEach((t) => t.remove());
  const length = Number(reader.dataset.length) || 1;
  document.querySelectorAll("#paragraph a.sentence").forEach((s) => {
    if (s.dataset.doc !== reader.dataset.doc) return;
    const tick = document.createElement("a");
    tick.href = s.getAttribute("href");
    tick.className = "tick " + [...s.classList].filter((c) => /^f\d+$/.test(c)).join(" ");
    tick.dataset.top = String((100 * Number(s.dataset.start)) / length);
    tick.title = (s.dataset.item || "no item") + ": " + s.textContent.slice(0, 80);
    tick.addEventListener("click", (e) => { e.preventDefault(); openSpan(s); });
    strip.appendChild(tick);
  });
  placeStrip(strip);
}

function highlight(start, end, item) {
  const pre = document.getElementById("filing");
  if (!pre) return null;
  const text = pre.textContent;
  const a = utf16Index(text, start);
  const b = utf16Index(text, end);
  if (!(a >= 0 && a < b && b <= text.length)) return null;
  const mark = document.createElement("mark");
  mark.id = "hl";
  mark.textContent = text.slice(a, b);
  pre.replaceChildren(document.createTextNode(text.slice(0, a)), mark, document.createTextNode(text.slice(b)));
  mark.scrollIntoView({ block: "center" });
  const where = document.getElementById("where");
  if (where) where.textContent = (item || "no item") + " · characters " + start + "–" + end;
  showWindow();
  return mark;
}

async function loadReader(doc) {
  const slot = document.getElementById("reader-slot");
  const resp = await fetch("/doc/" + encodeURIComponent(doc) + "/reader");
  slot.innerHTML = await resp.text(); // the server's template, every value escaped
  prepareReader();
}

async function openSpan(el) {
  const doc = el.dataset.doc;
  const reader = document.getElementById("reader");
  if (!reader || reader.dataset.doc !== doc) await loadReader(doc);
  document.querySelectorAll(".active").forEach((x) => x.classList.remove("active"));
  el.classList.add("active");
  highlight(Number(el.dataset.start), Number(el.dataset.end), el.dataset.item);
}

function scrollToOffset(offset) {
  const pre = document.getElementById("filing");
  const node = pre && pre.firstChild;
  if (!node) return;
  const range = document.createRange();
  range.setStart(node, Math.min(utf16Index(node.textContent, offset), node.textContent.length));
  const rect = range.getBoundingClientRect();
  pre.scrollTop += rect.top - pre.getBoundingClientRect().top - 8;
}

document.addEventListener("click", (e) => {
  const link = e.target.closest("a.sentence, a.cite");
  if (link && link.dataset.start !== undefined) {
    e.preventDefault();
    openSpan(link);
    return;
  }
  const band = e.target.closest("a.band");
  if (band) {
    e.preventDefault();
    scrollToOffset(Number(band.dataset.start));
  }
});

async function loadSummary() {
  const slot = document.getElementById("summary-slot");
  if (!slot) return;
  try {
    const resp = await fetch(slot.dataset.src);
    slot.innerHTML = await resp.text();
  } catch (err) {
    slot.replaceChildren(Object.assign(document.createElement("p"), { className: "error", textContent: "The summary could not be loaded (" + err + "); reload the page." }));
  }
  addTicks();
}

function setupAsk() {
  const form = document.getElementById("ask-form");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("answer");
    const question = document.getElementById("question").value;
    const docs = form.dataset.docs ? [form.dataset.docs] : [...document.querySelectorAll("input.ask-doc:checked")].map((c) => c.value);
    if (!docs.length) {
      out.replaceChildren(Object.assign(document.createElement("p"), { className: "error", textContent: "Check at least one document to ask." }));
      return;
    }
    out.replaceChildren(Object.assign(document.createElement("p"), { className: "working", textContent: "Searching the filings…" }));
    try {
      const resp = await fetch("/ask", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ question, docs }) });
      out.innerHTML = await resp.text(); // the server's template, every value escaped
    } catch (err) {
      out.replaceChildren(Object.assign(document.createElement("p"), { className: "error", textContent: "No answer (" + err + "); is `rag serve` still running?" }));
    }
  });
}

function setupUpload() {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("upload-file");
  const status = document.getElementById("upload-status");
  const bar = document.getElementById("upload-progress");
  const state = document.getElementById("upload-state");
  const error = document.getElementById("upload-error");
  const button = document.getElementById("upload-button");

  function fail(message) {
    status.hidden = true;
    error.textContent = message;
    error.hidden = false;
    button.disabled = false;
  }

  function say(text, done, total) {
    status.hidden = false;
    state.textContent = text;
    if (total) { bar.max = total; bar.value = done; } else { bar.removeAttribute("value"); }
  }

  async function refreshDocs() {
    const html = await (await fetch("/")).text();
    const fresh = new DOMParser().parseFromString(html, "text/html").querySelector("section.docs");
    const here = document.querySelector("section.docs");
    if (fresh && here) here.replaceWith(fresh);
  }

  async function poll(job) {
    for (;;) {
      const resp = await fetch("/jobs/" + encodeURIComponent(job.id));
      const j = await resp.json();
      if (!resp.ok) return fail(j.error || "The upload was lost; upload the file again.");
      if (j.state === "error") return fail(j.error);
      if (j.state === "done") {
        const r = j.result;
        say(r.status === "unchanged" ? j.name + " is already indexed as " + r.id + "." : "Indexed " + j.name + " as " + r.id + " (" + r.chunks + " chunks).", 1, 1);
        button.disabled = false;
        await refreshDocs();
        return;
      }
      if (j.state === "embedding") say("Embedding " + j.name + ": " + j.done + " of " + j.total + " chunks", j.done, j.total);
      else if (j.state === "writing") say("Writing " + j.total + " chunks to the store…", j.total, j.total);
      else say((j.state === "queued" ? "Waiting to index " : "Reading ") + j.name + "…");
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const file = input.files[0];
    if (!file) return;
    const limit = Number(form.dataset.limit);
    if (file.size > limit) {
      // the server refuses it too, but only after the browser has sent it all
      return fail(file.name + " is " + (file.size / 1048576).toFixed(1) + " MB, over the " + Math.round(limit / 1048576) + " MB limit for one filing; split it, or start `rag serve` with RAG_MAX_FILE_MB raised.");
    }
    error.hidden = true;
    button.disabled = true;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/upload?name=" + encodeURIComponent(file.name));
    xhr.upload.onprogress = (p) => { if (p.lengthComputable) say("Uploading " + file.name + "…", p.loaded, p.total); };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (_) { body = { error: xhr.responseText.split("\n")[0] }; }
      if (xhr.status === 202) poll(body);
      else fail(body.error || "The upload was refused (HTTP " + xhr.status + ").");
    };
    xhr.onerror = () => fail("The upload did not reach the server; is `rag serve` still running?");
    xhr.send(file);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  prepareReader();
  loadSummary();
  setupAsk();
  setupUpload();
});
