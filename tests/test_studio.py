"""The web studio over loopback HTTP: `composer serve` and `composer worker` as subprocesses,
the real huey queue on SQLite, real fusions rendered by FluidSynth."""

from __future__ import annotations

import io
import threading
import time
import wave

import pretty_midi
import pytest
import studio_client as sc

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ROOT = sc.ROOT


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """A server with no worker of its own and one worker beside it, as two processes."""
    data = tmp_path_factory.mktemp("studio")
    server, client = sc.serve(data, worker=False,
                              env={"COMPOSER_STUDIO_JOBS_PER_MINUTE": "1000"})
    worker = sc.start(["worker"], data)
    yield client, data
    sc.stop(worker)
    sc.stop(server)


def upload(client, path):
    response = client.upload(path.name, path.read_bytes())
    assert response.status == 201, response.body
    return response.json()


def test_fusion_job_runs_on_the_worker_and_its_files_download_and_play(studio, chorales):
    client, _ = studio
    a, b = upload(client, chorales[1]), upload(client, chorales[6])
    assert a["kind"] == "midi" and a["info"]["notes"] > 20
    response = client.post_json("/generate/vae", {"file_ids": [a["file_id"], b["file_id"]],
                                                   "steps": 3})
    assert response.status == 202
    job = client.wait(response.json()["job_id"])
    assert job["status"] == "done", job["error"]
    assert job["progress"] == 1.0 and job["started"] and job["finished"]
    assert any(0 < p < 1 for _, p in job["seen"]) or job["seen"][0][0] == "done"

    midi = client.get(f"/download/{job['result']['file_id']}")
    assert midi.status == 200 and midi.headers["content-type"] == "audio/midi"
    assert "attachment" in midi.headers["content-disposition"]
    pm = pretty_midi.PrettyMIDI(io.BytesIO(midi.body))
    assert len(pm.instruments) >= 2 and pm.get_end_time() > 5  # melody over the parts

    wav_id = job["result"]["wav_file_id"]
    whole = client.get(f"/download/{wav_id}")
    with wave.open(io.BytesIO(whole.body)) as w:
        assert w.getframerate() == 44100 and w.getnframes() / 44100 > 5
    part = client.get(f"/play/{wav_id}", headers={"Range": "bytes=100-1099"})
    assert part.status == 206 and len(part.body) == 1000
    assert part.body == whole.body[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(whole.body)}"
    assert client.get(f"/play/{job['result']['file_id']}").status == 415  # MIDI: no player

    notes = client.get(f"/notes/{job['result']['file_id']}").json()
    assert len(notes["notes"]) == sum(len(i.notes) for i in pm.instruments)
    assert job["id"] in [j["id"] for j in client.get("/jobs").json()]


def test_generate_and_melody_jobs(studio, chorales):
    client, _ = studio
    gan = client.post_json("/generate/gan", {"bars": 2, "seed": 3, "render": False}).json()
    backing = upload(client, chorales[2])
    melody = client.post_json("/generate/melody", {"file_id": backing["file_id"], "bars": 4,
                                                   "seed": 1, "render": False}).json()
    for job_id, tracks in ((gan["job_id"], 4), (melody["job_id"], 1)):
        job = client.wait(job_id)
        assert job["status"] == "done", job["error"]
        assert job["result"]["wav_file_id"] is None  # render: false
        pm = pretty_midi.PrettyMIDI(io.BytesIO(
            client.get(f"/download/{job['result']['file_id']}").body))
        assert len([i for i in pm.instruments if i.notes]) == tracks


def test_bad_requests_are_json_errors_without_tracebacks(studio, chorales):
    import hostile_midi

    client, data = studio
    cases = {"notes.txt": b"not a song\n" * 10, "empty.mid": b"",
             "tempo-storm.mid": dict(hostile_midi.named_cases())["1001-tempo-changes"],
             "drums.mid": _drums_only(), "corrupt.mid": b"MThd" + bytes(40)}
    for name, body in cases.items():
        response = client.upload(name, body)
        error = response.json()["error"]
        assert response.status == 422, (name, response.status, error)
        assert error.startswith(name + ":") and "Traceback" not in error, error
    big = client.upload("big.mid", b"MThd" + bytes(9 * 1024 * 1024))
    assert big.status == 413 and big.json()["error"].startswith("big.mid: ")
    assert "limit is 8 MB" in big.json()["error"]
    assert _unread_upload(client, 10 * 1024**3).startswith("HTTP/1.1 413")  # 10 GB announced

    # a MIDI bomb: a valid 43-byte file that lasts 59 minutes is kept (every command reads
    # it), and the job it feeds stops at the render cap with the reason, not an hour of audio
    bomb = client.upload("bomb.mid", dict(hostile_midi.named_cases())["one-59-minute-note"])
    assert bomb.status == 201 and bomb.json()["info"]["seconds"] > 3500
    job = client.wait(client.post_json("/generate/melody", {"file_id": bomb.json()["file_id"]}
                                       ).json()["job_id"])
    assert job["status"] == "failed" and "limit is 10:00" in job["error"], job["error"]

    song = upload(client, chorales[0])
    for path, payload, status, words in [
        ("/generate/vae", {"file_ids": [song["file_id"]]}, 422, "file_ids"),
        ("/generate/vae", {"file_ids": ["../../etc/passwd", song["file_id"]]}, 422, "file id"),
        ("/generate/vae", {"file_ids": ["0" * 32, song["file_id"]]}, 404, "no file"),
        ("/generate/gan", {"bars": 500}, 422, "bars"),
        ("/generate/gan", {"bars": 2, "evil": 1}, 422, "evil"),
        ("/generate/melody", {"file_id": "x"}, 422, "file_id"),
    ]:
        response = client.post_json(path, payload)
        assert response.status == status, (payload, response.body)
        assert words in response.json()["error"]
    for path in ("/download/..%2F..%2Fstudio.db", "/download/" + "0" * 32, "/jobs/nope",
                 "/play/../../studio.db"):
        response = client.get(path)
        assert response.status == 404 and "error" in response.json()
    assert (data / "studio.db").exists()  # the database was never served


def _unread_upload(client, length: int) -> str:
    """The answer to an upload that announces `length` bytes and sends none of them."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(client.base)
    with socket.create_connection((where.hostname, where.port), timeout=10) as s:
        s.sendall(f"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                  f"boundary=b\r\nContent-Length: {length}\r\n\r\n".encode())
        return s.recv(4096).decode(errors="replace")


def _drums_only() -> bytes:
    pm = pretty_midi.PrettyMIDI()
    kit = pretty_midi.Instrument(0, is_drum=True)
    kit.notes += [pretty_midi.Note(100, 36, i * 0.5, i * 0.5 + 0.1) for i in range(8)]
    pm.instruments.append(kit)
    out = io.BytesIO()
    pm.write(out)
    return out.getvalue()


def test_queued_jobs_survive_a_restart_and_cancelled_ones_never_run(tmp_path, chorales):
    server, client = sc.serve(tmp_path, worker=False)
    try:
        kept = client.post_json("/generate/gan", {"bars": 2, "seed": 1, "render": False}).json()
        dropped = client.post_json("/generate/gan", {"bars": 2, "render": False}).json()
        cancelled = client.delete(f"/jobs/{dropped['job_id']}")
        assert cancelled.status == 200 and cancelled.json()["status"] == "cancelled"
        assert client.delete(f"/jobs/{dropped['job_id']}").status == 409
        assert client.get(f"/jobs/{kept['job_id']}").json()["status"] == "queued"
    finally:
        sc.stop(server)
    server, client = sc.serve(tmp_path, worker=True)  # a restart, with its worker this time
    try:
        job = client.wait(kept["job_id"])
        assert job["status"] == "done", job["error"]
        time.sleep(1.0)  # the worker has taken the cancelled one off the queue by now
        dropped = client.get(f"/jobs/{dropped['job_id']}").json()
        assert dropped["status"] == "cancelled" and dropped["started"] is None
    finally:
        sc.stop(server)


def test_a_running_job_stops_when_cancelled(tmp_path, monkeypatch):
    """The worker's side in this process, with a job kind that reports progress slowly (a
    real fusion ends before a test could cancel it); the cancel goes through the server."""
    from composer.web import jobs
    from composer.web.db import Job
    from composer.web.queue import Studio
    from composer.web.settings import StudioSettings

    steps = []

    def slow(params, inputs, folder, progress):
        for i in range(100):
            progress(i / 100, f"step {i}")
            steps.append(i)
            time.sleep(0.05)
        raise AssertionError("ran to the end")

    monkeypatch.setitem(jobs.JOBS, "slow", slow)
    studio = Studio(StudioSettings.from_env(tmp_path))
    with studio.session() as s:
        s.add(Job(id="a" * 32, kind="slow", params={}))
        s.commit()
    server, client = sc.serve(tmp_path, worker=False)
    try:
        runner = threading.Thread(target=studio.run_job, args=("a" * 32,))
        runner.start()
        client.wait("a" * 32, until=("running",))
        time.sleep(0.3)
        assert client.delete(f"/jobs/{'a' * 32}").json()["status"] == "cancelled"
        runner.join(timeout=10)
        assert not runner.is_alive() and len(steps) < 100
        job = client.get(f"/jobs/{'a' * 32}").json()
        assert job["status"] == "cancelled" and job["result"] is None
    finally:
        sc.stop(server)


def test_a_taken_port_is_one_line(studio, tmp_path):
    import factories as f
    from urllib.parse import urlsplit

    client, _ = studio
    result = f.run_cli("serve", "--port", urlsplit(client.base).port, "--data", tmp_path,
                       "--no-worker", timeout=60)
    assert result.returncode == 1 and f.lines(result.stderr) == [
        f"error: --host 127.0.0.1 --port {urlsplit(client.base).port}: address already in use; "
        "is another server running there?"]


def test_job_creation_is_rate_limited_per_client(tmp_path):
    server, client = sc.serve(tmp_path, worker=False,
                              env={"COMPOSER_STUDIO_JOBS_PER_MINUTE": "3"})
    try:
        codes = [client.post_json("/generate/gan", {"bars": 1}).status for _ in range(5)]
        assert codes == [202, 202, 202, 429, 429]
        limited = client.post_json("/generate/gan", {"bars": 1})
        assert "3 jobs a minute" in limited.json()["error"]
        assert limited.headers["retry-after"]
    finally:
        sc.stop(server)


def test_the_page_and_the_openapi_spec(studio):
    client, _ = studio
    page = client.get("/")
    assert page.status == 200 and b"composer studio" in page.body
    assert client.get("/static/studio.js").status == 200
    spec = client.get("/openapi.json").json()
    for path in ("/upload", "/generate/vae", "/generate/gan", "/generate/hybrid",
                 "/generate/pop", "/generate/melody", "/jobs", "/jobs/{job_id}",
                 "/download/{file_id}", "/play/{file_id}", "/gallery"):
        assert path in spec["paths"], path


def test_the_schema_is_alembics(tmp_path):
    import sqlalchemy

    from composer.web.db import migrate

    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrate(url)
    migrate(url)  # at head already: nothing to do
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as c:
        assert c.execute(sqlalchemy.text("select version_num from alembic_version")
                         ).scalar() == "0002"
        tables = set(sqlalchemy.inspect(c).get_table_names())
    assert {"jobs", "files"} <= tables


CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by `make test`; Playwright only drives it


def test_the_page_fuses_two_songs_in_headless_chromium(studio, chorales, tmp_path):
    """What a user does: drop two songs, press VAE, watch the bar, play, download."""
    import os

    if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
        pytest.skip("Debian's chromium is not installed here (`make test` installs it)")
    from playwright.sync_api import sync_playwright

    client, _ = studio
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page(viewport={"width": 1100, "height": 1000},
                                accept_downloads=True)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(client.base + "/")
        # dragged in, as from a file manager: a drop event carrying both files
        import base64

        dropped = page.evaluate_handle("""files => {
            const dt = new DataTransfer();
            for (const [name, b64] of files) {
                const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                dt.items.add(new File([bytes], name, {type: 'audio/midi'}));
            }
            return dt; }""", [[p.name, base64.b64encode(p.read_bytes()).decode()]
                              for p in (chorales[1], chorales[6])])
        page.dispatch_event("#drop", "dragover", {"dataTransfer": dropped})
        page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
        page.wait_for_function("document.querySelectorAll('#uploads li').length === 2")
        page.fill("#steps", "3")
        page.click("#vae")
        page.wait_for_selector("#result", state="visible", timeout=120_000)
        assert page.eval_on_selector("#progress", "p => p.value") == 1
        assert "done" in page.inner_text("#stage")

        duration = page.evaluate("""() => new Promise((resolve, reject) => {
            const a = document.getElementById('player');
            if (a.readyState >= 1) return resolve(a.duration);
            a.onloadedmetadata = () => resolve(a.duration);
            a.onerror = () => reject(new Error('audio did not load'));
        })""")
        assert duration > 5
        page.evaluate("document.getElementById('player').play()")
        page.wait_for_function("document.getElementById('player').currentTime > 0.3",
                               timeout=20_000)

        with page.expect_download() as download:
            page.click("#download-midi")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert len(pretty_midi.PrettyMIDI(str(saved)).instruments) >= 2

        page.wait_for_function("document.querySelector('#jobs tbody').innerText"
                               ".includes('done')", timeout=10_000)
        painted = page.evaluate("""() => {
            const c = document.getElementById('roll');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
            return n; }""")
        assert painted > 500  # the piano roll was drawn
        shot = tmp_path / "studio.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert not errors, errors
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    assert image.width == 1100 and image.height >= 800
    assert len(set(image.resize((110, 80)).getdata())) > 50  # a page, not a blank frame
    if os.environ.get("COMPOSER_STUDIO_SCREENSHOT"):
        image.save(os.environ["COMPOSER_STUDIO_SCREENSHOT"])


def test_gallery_is_made_by_a_command_and_served(tmp_path):
    import factories as f

    made = f.run_cli("gallery", "--data", tmp_path, check=True)
    assert f.lines(made.stdout)[-3:] == [line for line in f.lines(made.stdout)
                                         if ": done " in line]
    server, client = sc.serve(tmp_path, worker=False)
    try:
        items = client.get("/gallery").json()
        assert [j["kind"] for j in items] == ["gan", "hybrid", "pop"]
        for job in items:
            audio = client.get(f"/play/{job['result']['wav_file_id']}")
            with wave.open(io.BytesIO(audio.body)) as w:
                assert w.getnframes() / w.getframerate() > 8 * 4 * 60 / 100 * 0.9
    finally:
        sc.stop(server)


def test_an_upgrade_from_the_first_schema_keeps_the_jobs(tmp_path):
    """A database made by the first release (revision 0001) is migrated at start, rows kept."""
    import sqlalchemy
    from alembic import command
    from alembic.config import Config

    from composer.web import db

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config()
    config.set_main_option("script_location", str(db.Path(db.__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0001")
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as c:
        c.execute(sqlalchemy.text(
            "insert into jobs (id, kind, status, progress, stage, params, client, created,"
            " updated) values ('" + "b" * 32 + "', 'gan', 'done', 1, 'done', '{}', 'x',"
            " '2026-12-01 10:00:00', '2026-12-01 10:00:00')"))
    _, session = db.connect(url)
    with session() as s:
        job = s.get(db.Job, "b" * 32)
        assert job.kind == "gan" and job.worker is None


REDIS = "/usr/bin/redis-server"  # Debian's, installed by `make test`


def test_two_workers_share_a_redis_queue(tmp_path):
    import os
    import subprocess

    if not os.path.exists(REDIS) and not os.environ.get("CI"):
        pytest.skip("Debian's redis-server is not installed here (`make test` installs it)")
    port = sc.free_port()
    redis = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(tmp_path)],
                             stdout=subprocess.DEVNULL)
    env = {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    server = workers = None
    try:
        server, client = sc.serve(tmp_path, worker=False, env=env)
        workers = [sc.start(["worker"], tmp_path, env) for _ in range(2)]
        for worker in workers:
            assert "Redis queue" in sc.wait_for_line(worker, "ready")
        ids = [client.post_json("/generate/gan", {"bars": 8, "seed": i}).json()["job_id"]
               for i in range(8)]
        jobs = [client.wait(i) for i in ids]
        assert all(j["status"] == "done" for j in jobs), [j["error"] for j in jobs]
        assert len({j["worker"] for j in jobs}) == 2  # both took jobs off the one queue
    finally:
        for process in (workers or []) + ([server] if server else []):
            sc.stop(process)
        redis.terminate()
        redis.wait(timeout=10)


@pytest.fixture
def postgres():
    """Debian's PostgreSQL in a throwaway cluster on a free loopback port (as the postgres
    user when the tests run as root, which PostgreSQL refuses to run as)."""
    import glob
    import os
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        if os.environ.get("CI"):
            raise AssertionError("Debian's postgresql is missing; `make test` installs it")
        pytest.skip("Debian's postgresql is not installed here (`make test` installs it)")
    bin_dir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="composer-pg-", dir="/tmp"))
    as_user = []
    if os.getuid() == 0:
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    subprocess.run(as_user + [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U",
                              "postgres", "--no-sync"], check=True, capture_output=True)
    port = sc.free_port()
    server = subprocess.Popen(as_user + [
        str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(folder),
        "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(url).close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=20)
    shutil.rmtree(folder, ignore_errors=True)


def test_job_rows_in_postgresql_by_database_url(tmp_path, postgres):
    import sqlalchemy

    env = {"DATABASE_URL": postgres}
    server, client = sc.serve(tmp_path, worker=True, env=env)
    try:
        job = client.wait(client.post_json("/generate/gan", {"bars": 2, "seed": 5}
                                           ).json()["job_id"])
        assert job["status"] == "done", job["error"]
        assert client.get(f"/download/{job['result']['wav_file_id']}").status == 200
    finally:
        sc.stop(server)
    assert not (tmp_path / "studio.db").exists()  # the rows went to PostgreSQL
    engine = sqlalchemy.create_engine(postgres.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        assert c.execute(sqlalchemy.text("select version_num from alembic_version")
                         ).scalar() == "0002"
        row = c.execute(sqlalchemy.text("select status, worker from jobs where id = :i"),
                        {"i": job["id"]}).one()
    engine.dispose()
    assert row[0] == "done" and row[1]


def test_a_job_left_running_by_a_dead_worker_is_queued_again(tmp_path):
    """A worker killed mid-job leaves its row 'running'; the next worker to start queues it
    again once it has not been heard from for STALE, and runs it."""
    import datetime as dt

    from composer.web.db import Job
    from composer.web.queue import STALE, Studio
    from composer.web.schemas import GenerateRequest
    from composer.web.settings import StudioSettings

    studio = Studio(StudioSettings.from_env(tmp_path))
    long_ago = dt.datetime.utcnow() - STALE - dt.timedelta(minutes=1)
    with studio.session() as s:
        for job_id, updated in (("c" * 32, long_ago), ("d" * 32, dt.datetime.utcnow())):
            s.add(Job(id=job_id, kind="gan", status="running", progress=0.4, stage="x",
                      params=GenerateRequest(bars=1, render=False).model_dump(),
                      started=updated, updated=updated))
        s.commit()
    server, client = sc.serve(tmp_path, worker=True)
    try:
        job = client.wait("c" * 32)
        assert job["status"] == "done", job["error"]
        assert client.get(f"/jobs/{'d' * 32}").json()["status"] == "running"  # still alive
    finally:
        sc.stop(server)


def test_jobs_choose_among_the_servers_own_checkpoints(tmp_path):
    import shutil

    mine, broken = tmp_path / "ckpt" / "my-gan", tmp_path / "ckpt" / "broken-gan"
    shutil.copytree(ROOT / "models" / "gan", mine)
    shutil.copytree(ROOT / "models" / "gan", broken)
    for weights in broken.glob("generator.*"):
        weights.unlink()  # a folder the operator named, that cannot run
    for weights in broken.glob("weights.*"):
        weights.unlink()
    server, client = sc.serve(tmp_path / "data", worker=True, extra=[
        "--checkpoint", str(mine), "--checkpoint", str(broken)])
    try:
        offered = {m["name"]: m for m in client.get("/models").json()}
        assert offered["my-gan"] == {"name": "my-gan", "model": "gan", "shipped": False}
        assert offered["vae-16bar"]["shipped"] and str(tmp_path) not in str(offered)
        ok = client.post_json("/generate/gan", {"bars": 1, "checkpoint": "my-gan",
                                                "render": False}).json()
        bad = client.post_json("/generate/gan", {"bars": 1, "checkpoint": "broken-gan",
                                                 "render": False}).json()
        assert client.wait(ok["job_id"])["status"] == "done"
        failed = client.wait(bad["job_id"])
        assert failed["status"] == "failed" and "broken-gan" in failed["error"]
        assert str(tmp_path) not in failed["error"], failed["error"]  # no server paths
        for path, payload, words in [
            ("/generate/pop", {"checkpoint": "my-gan"}, "is a gan model"),
            ("/generate/hybrid", {"checkpoint": "gan"}, "takes no checkpoint"),
            ("/generate/gan", {"checkpoint": str(mine)}, "GET /models"),
            ("/generate/vae", {"file_ids": ["e" * 32] * 2, "model": "my-gan"}, "is a gan"),
        ]:
            response = client.post_json(path, payload)
            assert response.status == 422 and words in response.json()["error"], response.body
    finally:
        sc.stop(server)


def test_a_melody_over_an_uploaded_audio_backing_is_mixed(studio, tmp_path):
    """A WAV backing (the G D Em C progression rendered by FluidSynth) goes in as audio; the
    job writes a melody and its mix over the backing."""
    import soundfile
    from test_backing import progression_midi

    from composer.render import Renderer

    with Renderer() as renderer:
        clip = renderer.render_midi(progression_midi(tmp_path / "band.mid"))
    soundfile.write(str(tmp_path / "band.wav"), clip.audio, clip.sample_rate)
    client, _ = studio
    backing = upload(client, tmp_path / "band.wav")
    assert backing["kind"] == "audio" and 18 < backing["info"]["seconds"] < 25
    job = client.wait(client.post_json("/generate/melody", {"file_id": backing["file_id"],
                                                            "bars": 4, "seed": 1}
                                       ).json()["job_id"])
    assert job["status"] == "done", job["error"]
    assert "audio backing" in job["result"]["summary"]
    mix = client.get(f"/download/{job['result']['wav_file_id']}")
    with wave.open(io.BytesIO(mix.body)) as w:
        assert w.getnchannels() == 2 and w.getnframes() / w.getframerate() > 15
    melody = pretty_midi.PrettyMIDI(io.BytesIO(
        client.get(f"/download/{job['result']['file_id']}").body))
    assert len(melody.instruments) == 1 and len(melody.instruments[0].notes) >= 4
    fusion = client.post_json("/generate/vae", {"file_ids": [backing["file_id"]] * 2})
    assert fusion.status == 422 and "two MIDI songs" in fusion.json()["error"]
