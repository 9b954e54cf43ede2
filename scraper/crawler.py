"""The web crawler: a Scrapy spider that follows links and downloads MIDI files and zips.

Scrapy does the hard parts of being a polite, robust crawler: robots.txt, AutoThrottle,
per-domain concurrency, timeouts, redirects, size limits that abort a transfer mid-stream, and a
job directory that lets an interrupted crawl (Ctrl-C) continue where it stopped. Around it:
retries that back off, and a FileStore that checks and keeps what arrives. A hard-killed crawl
cannot trust its job directory (Scrapy saves queues on a clean stop only), so it starts over from
the start URLs; the manifest makes every finished file a skip, not a download.

One crawl per process: Twisted's reactor cannot be restarted.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import multiprocessing
import os
import random
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import BrokenExecutor as BrokenProcessPool
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

from scraper.names import ARCHIVE_SUFFIXES, MIDI_SUFFIXES, url_suffix

USER_AGENT = ("composer-scraper/0.1 (+composer: collects MIDI files for a music corpus; "
              "obeys robots.txt, throttles itself, fetches each file once)")
FILE_SUFFIXES = MIDI_SUFFIXES + ARCHIVE_SUFFIXES
FINAL_FAILURES = ("too-large", "http-404", "http-410")
STATE_FILE, LOCK_FILE, MANIFEST_FILE, JOB_DIR = "state.json", "lock", "manifest.sqlite", "job"


class CrawlError(ValueError):
    """A crawl that cannot start: bad URL, output folder busy."""


@dataclass
class CrawlOptions:
    start_urls: list[str]
    out_dir: Path
    allow_domains: list[str] = field(default_factory=list)
    max_depth: int = 3
    max_files: int | None = None
    max_bytes: int = 32 * 1024 * 1024
    dry_run: bool = False
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0  # first retry waits this long, then doubles
    throttle: bool = True
    concurrency: int = 4  # requests in flight per domain
    user_agent: str = USER_AGENT
    log_level: str = "ERROR"
    workers: int | None = None  # processes checking downloads (None: one per core; 0: none)


@dataclass
class CrawlSummary:
    pages: int = 0
    pages_failed: Counter = field(default_factory=Counter)
    files_found: int = 0
    downloaded: int = 0
    bytes_downloaded: int = 0
    saved: int = 0
    duplicates: int = 0
    already_done: int = 0
    rejected: Counter = field(default_factory=Counter)
    found: list[str] = field(default_factory=list)  # file URLs (kept for --dry-run)
    saved_paths: list[str] = field(default_factory=list)
    close_reason: str = ""
    resumed: bool = False
    seconds: float = 0.0

    @property
    def interrupted(self) -> bool:
        """Stopped before the end: Ctrl-C ("shutdown"), or a forced stop with no reason."""
        return self.close_reason not in ("finished", "max-files")


def scrape_dir(out_dir: Path) -> Path:
    return out_dir / ".scrape"


def _check_urls(urls: list[str]) -> list[str]:
    if not urls:
        raise CrawlError("give at least one start URL")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CrawlError(f"{url}: not an http(s) URL")
    return [urldefrag(u)[0] for u in urls]


def _allowed_hosts(options: CrawlOptions) -> list[str]:
    hosts = {urlsplit(u).hostname.lower() for u in options.start_urls}
    hosts |= {d.lower().strip().lstrip(".") for d in options.allow_domains if d.strip()}
    return sorted(hosts)


def host_allowed(url: str, hosts: list[str]) -> bool:
    """The host is one of `hosts` or a subdomain of one (as Scrapy's allowed_domains)."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in hosts)


def crawl_settings(options: CrawlOptions, job_dir: Path | None) -> dict:
    """Scrapy settings for one crawl; every politeness and robustness knob is set here."""
    settings = {
        "BOT_NAME": "composer-scraper",
        "USER_AGENT": options.user_agent,
        "ROBOTSTXT_OBEY": True,
        "AUTOTHROTTLE_ENABLED": options.throttle,
        "AUTOTHROTTLE_START_DELAY": 1.0,
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": max(1.0, options.concurrency / 2),
        "DOWNLOAD_DELAY": 0.25 if options.throttle else 0.0,
        # Scrapy counts requests waiting in a domain's slot as in progress, and a clean stop
        # drains them all: no more may enter than the allowed domains can run at once.
        "CONCURRENT_REQUESTS": options.concurrency * len(_allowed_hosts(options)),
        "CONCURRENT_REQUESTS_PER_DOMAIN": options.concurrency,
        # Callbacks yield only requests; Scrapy's default of 100 output workers per response
        # is pure overhead here (a hundred asyncio tasks for every file).
        "CONCURRENT_ITEMS": 8,
        "DOWNLOAD_TIMEOUT": options.timeout,
        "DNS_TIMEOUT": options.timeout,
        "DOWNLOAD_MAXSIZE": options.max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": options.retries,
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",  # the summary reports it
        "RETRY_BACKOFF_BASE": options.backoff,
        "RETRY_BACKOFF_MAX": 60.0,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "scraper.crawler.BackoffRetryMiddleware": 550,
        },
        "REDIRECT_MAX_TIMES": 10,
        "DEPTH_LIMIT": 0,  # depth is judged by the spider: files one hop past --max-depth count
        "DEPTH_PRIORITY": 1,  # breadth first: the whole site's top before its corners
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,  # Scrapy 2.19's control server: no open ports
        "LOG_LEVEL": options.log_level,
        "LOGSTATS_INTERVAL": 0,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    }
    if job_dir is not None:
        settings["JOBDIR"] = str(job_dir)
    return settings


def failure_reason(failure) -> str:
    """A short stable word for why a request failed (timeout, http-500, robots, ...)."""
    exc = failure.value
    name = type(exc).__name__
    message = str(exc).lower()
    response = getattr(exc, "response", None)
    if response is not None and name == "HttpError":
        return f"http-{response.status}"
    if name == "IgnoreRequest":
        if "robots" in message:
            return "robots"
        if "redirect" in message:
            return "redirect-loop"
        return "ignored"
    if "timeout" in name.lower() or "timed out" in message or "took longer" in message:
        return "timeout"
    if "cancel" in name.lower() or "maxsize" in message or "max size" in message:
        return "too-large"
    if "dns" in name.lower() or "resolve" in name.lower():
        return "dns"
    if "refused" in name.lower() or "refused" in message:
        return "connection-refused"
    if "dataloss" in name.lower():
        return "truncated"
    if "connection" in name.lower():
        return "connection-lost"
    return name


class BackoffRetryMiddleware:
    """Scrapy's retry rules (RETRY_TIMES, RETRY_HTTP_CODES, RETRY_EXCEPTIONS) with exponential
    back-off and Retry-After: a struggling server gets breathing room, not a hammer.

    The wait happens inside the download slot, so other requests to the same host wait too
    while other hosts carry on.
    """

    def __init__(self, crawler):
        from scrapy.utils.misc import load_object

        settings = crawler.settings
        self.crawler = crawler
        self.codes = {int(c) for c in settings.getlist("RETRY_HTTP_CODES")}
        self.exceptions = tuple(load_object(e) if isinstance(e, str) else e
                                for e in settings.getlist("RETRY_EXCEPTIONS"))
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _delay(self, request, response=None) -> float:
        attempt = request.meta.get("retry_times", 0)  # of the request that failed
        delay = self.base * 2 ** attempt * random.uniform(0.75, 1.25)
        if response is not None:
            after = response.headers.get(b"Retry-After")
            if after and after.strip().isdigit():
                delay = max(delay, float(after.strip()))
        return min(delay, self.cap)

    def _retry(self, request, reason: str):
        from scrapy.downloadermiddlewares.retry import get_retry_request

        return get_retry_request(request, spider=self.crawler.spider, reason=reason)

    async def process_response(self, request, response, spider=None):
        if request.meta.get("dont_retry") or response.status not in self.codes:
            return response
        retry = self._retry(request, f"http-{response.status}")
        if retry is None:
            return response
        await asyncio.sleep(self._delay(request, response))
        return retry

    async def process_exception(self, request, exception, spider=None):
        if request.meta.get("dont_retry") or not isinstance(exception, self.exceptions):
            return None
        retry = self._retry(request, type(exception).__name__)
        if retry is None:
            return None
        await asyncio.sleep(self._delay(request))
        return retry


def _make_spider_class():
    """The spider class, built on first use so that importing this module stays cheap."""
    import scrapy
    from scrapy import signals
    from scrapy.exceptions import CloseSpider
    from scrapy.http import TextResponse
    from scrapy.linkextractors import IGNORED_EXTENSIONS, LinkExtractor

    from scraper.checks import is_zip
    from scraper.store import LimitReached, examine

    skip_pages = tuple("." + e for e in IGNORED_EXTENSIONS if e not in ("zip",))

    class MidiSpider(scrapy.Spider):
        name = "composer-midi"

        def __init__(self, options: CrawlOptions, store, summary: CrawlSummary,
                     report: Callable[[CrawlSummary], None] | None = None, pool=None,
                     **kwargs):
            super().__init__(**kwargs)
            self.options, self.store, self.summary, self.report = options, store, summary, report
            self.pool = pool
            self.hosts = _allowed_hosts(options)
            self.allowed_domains = list(self.hosts)
            self.links = LinkExtractor(deny_extensions=[], unique=True,
                                       tags=("a", "area", "link", "frame", "iframe"),
                                       attrs=("href", "src"))
            self.found_now: set[str] = set()
            self.state: dict = {}  # replaced by the job directory's saved state, if any

        @classmethod
        def from_crawler(cls, crawler, *args, **kwargs):
            spider = super().from_crawler(crawler, *args, **kwargs)
            crawler.signals.connect(spider.on_closed, signal=signals.spider_closed)
            return spider

        # --- start -------------------------------------------------------------------

        async def start(self):
            for request in self.start_requests():
                yield request

        def start_requests(self):
            for url in self.options.start_urls:
                if url_suffix(url) in FILE_SUFFIXES:
                    request = self._file_request(url)
                    if request is not None:
                        yield request
                else:
                    yield scrapy.Request(url, callback=self.parse_page, errback=self.page_failed,
                                         dont_filter=True)

        def _file_request(self, url: str):
            """A download of `url`, or None when found before (this run or a finished one)."""
            queued = self.state.setdefault("queued_files", set())  # survives a clean stop
            if url in self.found_now:
                return None
            self.found_now.add(url)
            self.summary.files_found += 1
            self.summary.found.append(url)
            if self.options.dry_run:
                return None
            if self.store.manifest.is_done(url, self.options.max_bytes):
                self.summary.already_done += 1
                return None
            if url in queued:
                return None  # still in the job directory's queue from the interrupted run
            queued.add(url)
            # dont_filter: a redirect loop must end in max-redirects (an error we record),
            # not vanish in the duplicate filter; files are de-duplicated by found_now.
            return scrapy.Request(url, callback=self.parse_file, errback=self.file_failed,
                                  dont_filter=True, priority=10,
                                  headers={"Accept": "audio/midi,application/zip,*/*;q=0.5"},
                                  meta={"download_maxsize": self.options.max_bytes})

        # --- pages -------------------------------------------------------------------

        async def parse_page(self, response):
            self.summary.pages += 1
            self._report()
            if not isinstance(response, TextResponse):
                if response.body[:4] == b"MThd" or is_zip(response.body):
                    await self.parse_file(response)  # a MIDI behind a link without .mid
                return
            depth = response.meta.get("depth", 0)
            for link in self.links.extract_links(response):
                url = urldefrag(link.url)[0]
                if urlsplit(url).scheme not in ("http", "https") or not host_allowed(url,
                                                                                       self.hosts):
                    continue
                suffix = url_suffix(url)
                if suffix in FILE_SUFFIXES:
                    request = self._file_request(url)
                    if request is not None:
                        yield request
                elif depth < self.options.max_depth and suffix not in skip_pages:
                    yield scrapy.Request(url, callback=self.parse_page, errback=self.page_failed)

        def page_failed(self, failure):
            self.summary.pages_failed[failure_reason(failure)] += 1
            self._report()

        # --- files -------------------------------------------------------------------

        def _original_url(self, request) -> str:
            return request.meta.get("redirect_urls", [request.url])[0]

        async def _examine(self, url: str, body: bytes, content_type: str):
            """The CPU-bound checks, in a worker process when there is a pool."""
            if self.pool is not None:
                try:
                    return await asyncio.get_running_loop().run_in_executor(
                        self.pool, examine, url, body, content_type, self.store.max_bytes,
                        self.store.zip_limits)
                except BrokenProcessPool:  # a worker died (out of memory?): check here
                    self.pool = None
            return self.store.examine(url, body, content_type)

        async def parse_file(self, response):
            url = self._original_url(response.request)
            self.summary.downloaded += 1
            self.summary.bytes_downloaded += len(response.body)
            content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
            examined = await self._examine(url, response.body, content_type)
            self.state.get("queued_files", set()).discard(url)
            try:
                outcomes = self.store.keep(url, response.body, examined)
            except LimitReached:
                self.state.get("queued_files", set()).add(url)  # not done: retry on resume
                raise CloseSpider("max-files") from None
            for outcome in outcomes:
                if outcome.status == "saved":
                    self.summary.saved += 1
                    self.summary.saved_paths.append(outcome.path)
                elif outcome.status == "duplicate":
                    self.summary.duplicates += 1
                elif outcome.status == "already":
                    self.summary.already_done += 1
                else:
                    self.summary.rejected[outcome.reason] += 1
            self._report()
            if self.store.full:
                raise CloseSpider("max-files")

        def file_failed(self, failure):
            url = self._original_url(failure.request)
            self.state.get("queued_files", set()).discard(url)
            reason = failure_reason(failure)
            detail = str(failure.value)[:300] or (
                f"transfer aborted past {self.options.max_bytes:,} bytes"
                if reason == "too-large" else type(failure.value).__name__)
            # These are verdicts on the file; timeouts, 5xx and the like may pass another day.
            self.store.reject(url, reason, detail, failed=reason not in FINAL_FAILURES)
            self.summary.rejected[reason] += 1
            self._report()

        def on_closed(self, spider, reason):
            self.summary.close_reason = reason

        def _report(self):
            if self.report is not None:
                self.report(self.summary)

    return MidiSpider


# --- running ---------------------------------------------------------------------------

def _read_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_state(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1) + "\n")
    os.replace(tmp, path)


def run_crawl(options: CrawlOptions,
              report: Callable[[CrawlSummary], None] | None = None) -> CrawlSummary:
    """Crawl, download and keep MIDI files under options.out_dir; blocks until done.

    Ctrl-C stops cleanly (Scrapy finishes what is in flight and saves its queue); rerunning
    the same command resumes from the job directory.
    """
    options.start_urls = _check_urls(options.start_urls)
    for name, value, least in (("--max-depth", options.max_depth, 0),
                               ("--max-bytes", options.max_bytes, 1),
                               ("--max-files", options.max_files or 1, 1),
                               ("--retries", options.retries, 0),
                               ("--concurrency", options.concurrency, 1)):
        if value < least:
            raise CrawlError(f"{name} {value}: give {least} or more")
    if options.timeout <= 0:
        raise CrawlError(f"--timeout {options.timeout:g}: give a positive number of seconds")
    out = Path(options.out_dir)
    if out.exists() and not out.is_dir():
        raise CrawlError(f"{out}: exists and is not a folder")
    from scrapy.crawler import CrawlerProcess

    from scraper.manifest import Manifest
    from scraper.store import FileStore

    summary = CrawlSummary()
    started = time.perf_counter()
    work = scrape_dir(out)
    lock = None
    job_dir = None
    state_path = work / STATE_FILE
    if not options.dry_run:
        work.mkdir(parents=True, exist_ok=True)
        lock = open(work / LOCK_FILE, "w")  # noqa: SIM115 (held for the whole crawl)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise CrawlError(f"{out}: another crawl is writing to this folder") from None
        previous = _read_state(state_path)
        job_dir = work / JOB_DIR
        # Resume Scrapy's queue only after a clean stop of the same crawl; after a hard kill
        # its files are stale, and after a finished crawl a rerun should look for new files.
        summary.resumed = (previous.get("status") == "interrupted"
                           and previous.get("start_urls") == options.start_urls)
        if not summary.resumed and job_dir.exists():
            shutil.rmtree(job_dir)
        _write_state(state_path, {"status": "running", "pid": os.getpid(),
                                  "start_urls": options.start_urls})
    manifest = Manifest(work / MANIFEST_FILE) if not options.dry_run else _NullManifest()
    pool = None if options.dry_run else _checking_pool(options.workers)
    try:
        store = FileStore(out, manifest, options.max_bytes, options.max_files)
        process = CrawlerProcess(crawl_settings(options, job_dir))
        process.crawl(_make_spider_class(), options=options, store=store, summary=summary,
                      report=report, pool=pool)
        process.start()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        manifest.close()
        summary.seconds = time.perf_counter() - started
        if lock is not None:
            # Only a clean stop leaves a job directory worth resuming.
            status = ("interrupted" if summary.close_reason == "shutdown"
                      else "finished" if summary.close_reason else "crashed")
            _write_state(state_path, {"status": status, "close_reason": summary.close_reason,
                                      "start_urls": options.start_urls})
            lock.close()
    return summary


def _start_worker(parent: int) -> None:
    """Leave Ctrl-C to the crawler (it stops cleanly, then shuts the pool down), and exit when
    the crawler is gone: a killed crawl must not leave workers waiting forever for work."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _checking_pool(workers: int | None):
    """Processes for `examine`, spawned fresh (never forked from the running reactor)."""
    if workers == 0:
        return None
    return ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1,
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(os.getpid(),))


class _NullManifest:
    """--dry-run keeps no records and writes nothing."""

    def is_done(self, url: str, max_bytes: int) -> bool:
        return False

    def saved_count(self) -> int:
        return 0

    def close(self) -> None:
        pass
