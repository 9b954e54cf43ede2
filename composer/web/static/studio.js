// The studio page: plain JavaScript against the JSON API, no build step.
"use strict";
const $ = (id) => document.getElementById(id);
const uploads = [];  // {file_id, name, kind}
let current = null;  // the job the progress bar follows

function say(text, error = false) {
  $("message").textContent = text;
  $("message").className = error ? "error" : "";
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body instanceof FormData) options.body = body;
  else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

let limits = { max_upload_bytes: Infinity };  // GET /limits replaces it at start

async function upload(files) {
  for (const file of files) {
    if (file.size > limits.max_upload_bytes) {  // said here, before megabytes are sent
      say(`${file.name}: ${(file.size / 1e6).toFixed(1)} MB; the limit is ${(limits.max_upload_bytes / 1e6).toFixed(0)} MB`, true);
      continue;
    }
    const form = new FormData();
    form.append("file", file);
    try {
      const row = await api("POST", "/upload", form);
      uploads.push(row);
      const li = document.createElement("li");
      li.textContent = `${row.name} (${row.kind})`;
      li.dataset.fileId = row.file_id;
      $("uploads").appendChild(li);
      say(`uploaded ${row.name}`);
    } catch (e) {
      say(e.message, true);
    }
  }
}

function number(id) {
  const v = $(id).value;
  return v === "" ? null : Number(v);
}

function request(kind) {
  const temperature = number("temperature"), qpm = number("qpm"), program = number("program");
  const midis = uploads.filter((u) => u.kind === "midi");
  if (kind === "vae") {
    if (midis.length < 2) throw new Error("upload two MIDI songs to fuse");
    const body = { file_ids: midis.slice(-2).map((u) => u.file_id), steps: number("steps") || 8 };
    if (qpm !== null) body.qpm = qpm;
    if (program !== null) body.program = program;
    return body;
  }
  if (kind === "melody") {
    if (!uploads.length) throw new Error("upload a backing track (MIDI or audio) first");
    const body = { file_id: uploads[uploads.length - 1].file_id, bars: number("bars") || 8 };
    if (temperature !== null) body.temperature = temperature;
    if (program !== null) body.program = program;
    return body;
  }
  const body = { bars: number("bars") || 8, qpm: qpm || 120 };
  if (temperature !== null) body.temperature = temperature;
  if (program !== null) body.program = program;
  return body;
}

async function start(kind) {
  try {
    const { job_id } = await api("POST", `/generate/${kind}`, request(kind));
    current = job_id;
    $("current").hidden = false;
    $("result").hidden = true;
    $("current-title").textContent = `${kind} job`;
    $("progress").value = 0;
    say(`queued ${kind}`);
    follow(job_id);
    refreshJobs();
  } catch (e) {
    say(e.message, true);
  }
}

async function follow(jobId) {
  while (current === jobId) {
    const job = await api("GET", `/jobs/${jobId}`).catch((e) => ({ status: "failed", error: e.message }));
    $("progress").value = job.progress || 0;
    $("stage").textContent = job.stage && job.stage !== job.status ? `${job.status}: ${job.stage}` : job.status;
    if (["done", "failed", "cancelled"].includes(job.status)) {
      if (job.status === "done") show(job.result);
      else say(job.error || job.status, job.status === "failed");
      refreshJobs();
      return;
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}

function show(result) {
  $("result").hidden = false;
  $("download-midi").href = `/download/${result.file_id}`;
  if (result.wav_file_id) {
    $("player").src = `/play/${result.wav_file_id}`;
    $("download-wav").href = `/download/${result.wav_file_id}`;
  }
  say(result.summary || "done");
  drawRoll(result.file_id);
}

async function drawRoll(fileId) {
  const { seconds, notes } = await api("GET", `/notes/${fileId}`);
  const canvas = $("roll"), g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  const pitched = notes.filter((n) => !n[5]);
  if (!pitched.length) return;
  const low = Math.min(...pitched.map((n) => n[2])) - 2, high = Math.max(...pitched.map((n) => n[2])) + 2;
  const x = (t) => (t / Math.max(seconds, 0.1)) * canvas.width;
  const y = (p) => canvas.height - ((p - low) / (high - low)) * canvas.height;
  const colours = ["#6cf", "#fc6", "#9e6", "#f79", "#c9f", "#6ec"];
  for (const [start, end, pitch, velocity, track, drum] of notes) {
    g.globalAlpha = 0.3 + 0.7 * velocity / 127;
    g.fillStyle = colours[track % colours.length];
    if (drum) g.fillRect(x(start), canvas.height - 6, 2, 6);
    else g.fillRect(x(start), y(pitch) - 2, Math.max(1, x(end) - x(start)), 4);
  }
  g.globalAlpha = 1;
}

async function refreshJobs() {
  const jobs = await api("GET", "/jobs").catch(() => []);
  const body = $("jobs").querySelector("tbody");
  body.innerHTML = "";
  for (const job of jobs.slice(0, 30)) {
    const tr = document.createElement("tr");
    const result = job.result ? `<a href="/download/${job.result.file_id}">MIDI</a>` +
      (job.result.wav_file_id ? ` · <a href="/download/${job.result.wav_file_id}">WAV</a>` : "") : (job.error || "");
    tr.innerHTML = `<td>${job.kind}</td><td>${job.status}</td><td>${Math.round(100 * job.progress)} %</td><td></td><td></td>`;
    tr.children[3].innerHTML = job.result ? result : "";
    if (!job.result) tr.children[3].textContent = job.error || "";
    if (job.status === "queued" || job.status === "running") {
      const cancel = document.createElement("button");
      cancel.className = "small";
      cancel.textContent = "cancel";
      cancel.onclick = async () => {
        await api("DELETE", `/jobs/${job.id}`).catch((e) => say(e.message, true));
        refreshJobs();
      };
      tr.children[4].appendChild(cancel);
    }
    body.appendChild(tr);
  }
}

async function refreshGallery() {
  const items = await api("GET", "/gallery").catch(() => []);
  const list = $("gallery");
  list.innerHTML = items.length ? "" : "<li>No examples yet: run <code>composer gallery</code>.</li>";
  for (const job of items) {
    const li = document.createElement("li");
    li.innerHTML = `${job.kind}: ${job.result.summary} — <a href="#">play</a> · <a href="/download/${job.result.file_id}">MIDI</a>`;
    li.querySelector("a").onclick = (e) => { e.preventDefault(); current = null; $("current").hidden = false; show(job.result); };
    list.appendChild(li);
  }
}

const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); upload(e.dataTransfer.files); });
$("picker").addEventListener("change", (e) => upload(e.target.files));
for (const kind of ["vae", "gan", "hybrid", "pop", "melody"]) $(kind).onclick = () => start(kind);
api("GET", "/limits").then((l) => { limits = l; }).catch(() => {});
refreshJobs();
refreshGallery();
setInterval(refreshJobs, 3000);
