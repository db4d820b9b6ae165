#!/usr/bin/env python3
"""The web console in a real headless browser (Debian chromium + chromium-driver,
python3-selenium), against the real services and tb-gateway on a fresh database.

What an operator does: log in; submit a request with a bad field and see the
error beside that field; fix it; publish it; see the notification counter move
live and the match appear; accept it; see the notification. An organisation's
user cannot open another organisation's request. A title holding <script> shows
as text. A screenshot of each page goes to TB_SCREENSHOT_DIR.

Run by ctest (tests/CMakeLists.txt) with the binaries in the environment;
exits 77 (skipped) without TB_TEST_PG."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

SKIP = 77
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Env:
    def __init__(self):
        self.pg = os.environ["TB_TEST_PG"]
        self.psql = os.path.join(os.environ.get("TB_TEST_PGBIN", "/usr/bin"), "psql")
        self.dbname = "tb_browser_" + uuid.uuid4().hex[:10]
        self.db = f"{self.pg} dbname={self.dbname}"
        self.procs = []
        self.logdir = os.environ.get("TB_TEST_LOGDIR") or tempfile.mkdtemp()
        os.makedirs(self.logdir, exist_ok=True)
        self.shots = os.environ.get("TB_SCREENSHOT_DIR") or os.path.join(self.logdir, "screenshots")
        os.makedirs(self.shots, exist_ok=True)
        self.http = free_port()
        self.base = f"http://127.0.0.1:{self.http}"
        self.token = None

    def sql(self, statement, db=None):
        subprocess.run([self.psql, db or f"{self.pg} dbname=postgres", "-qAtc", statement],
                       check=True, capture_output=True)

    def start(self, name, binary, args):
        log = open(os.path.join(self.logdir, f"browser-{name}.log"), "w")
        p = subprocess.Popen([binary] + args, stdout=log, stderr=log)
        self.procs.append(p)
        return p

    def up(self):
        self.sql(f"CREATE DATABASE {self.dbname}")
        ep = {k: f"tcp://127.0.0.1:{free_port()}" for k in
              ("iapi", "ifeed", "mapi", "mfeed", "napi", "npub")}
        common = ["--database-url", self.db, "--stats-interval", "0"]
        subprocess.run([os.environ["TB_INTAKE_BIN"], "--migrate"] + common, check=True,
                       capture_output=True)
        self.start("intake", os.environ["TB_INTAKE_BIN"],
                   common + ["--api", ep["iapi"], "--feed", ep["ifeed"]])
        self.start("matching", os.environ["TB_MATCHING_BIN"],
                   common + ["--api", ep["mapi"], "--feed", ep["mfeed"], "--intake-feed", ep["ifeed"]])
        self.start("notification", os.environ["TB_NOTIFICATION_BIN"],
                   common + ["--api", ep["napi"], "--pub", ep["npub"], "--intake-feed", ep["ifeed"],
                             "--matching-feed", ep["mfeed"]])
        self.gw_args = ["--database-url", self.db, "--http", f"127.0.0.1:{self.http}",
                        "--intake", ep["iapi"], "--matching", ep["mapi"],
                        "--notification", ep["napi"], "--notification-pub", ep["npub"],
                        "--sse-keepalive", "1000"]
        self.start("gateway", os.environ["TB_GATEWAY_BIN"], self.gw_args)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/api/v1/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                time.sleep(0.2)
        else:
            raise SystemExit("tb-gateway did not come up")
        self.admin(["--user-add", "ivanova", "--role", "operator"], "ivanova's password\n")
        self.admin(["--user-add", "petrov", "--role", "by.gomeldrev"], "petrov's password\n")
        self.token = self.admin(["--token-add", "ivanova"]).strip()

    def admin(self, args, stdin=""):
        r = subprocess.run([os.environ["TB_GATEWAY_BIN"], "--database-url", self.db,
                            "--log-level", "warn"] + args, input=stdin, text=True,
                           capture_output=True)
        if r.returncode != 0:
            raise SystemExit(f"tb-gateway {args[0]}: {r.stderr}")
        return r.stdout

    def api(self, method, path, body=None):
        req = urllib.request.Request(self.base + "/api/v1" + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def down(self):
        for p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=8)
            except subprocess.TimeoutExpired:
                p.kill()
        gw = self.procs[3] if len(self.procs) > 3 else None
        try:
            self.sql(f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")
        except Exception:
            pass
        return gw.returncode if gw else 0


def data(name):
    with open(os.path.join(ROOT, "tests", "data", name), encoding="utf-8") as f:
        return json.load(f)


def main():
    if not os.environ.get("TB_TEST_PG"):
        print("TB_TEST_PG is not set: skipped")
        return SKIP
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    env = Env()
    driver = None
    ok = False
    try:
        env.up()
        # The other side of the match, published beforehand, and a title that
        # holds markup.
        offer = data("offer_cn.json")
        st, res = env.api("POST", "/requests", offer)
        assert st == 201, res
        st, _ = env.api("POST", f"/requests/{res['request']['id']}/publish", {"version": 1})
        assert st == 200
        offer_id = res["request"]["id"]
        xss = dict(offer, external_ref="XSS-1", title="<script>window.pwned=1</script> kiln <b>bold</b>")
        st, res = env.api("POST", "/requests", xss)
        assert st == 201, res
        xss_id = res["request"]["id"]

        opts = webdriver.ChromeOptions()
        opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,1000", "--lang=en"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                                  options=opts)
        # The console draws a page anew after each action: an element read while
        # that happens is stale or gone for a moment, so waits look again.
        wait = WebDriverWait(driver, 20, ignored_exceptions=(NoSuchElementException,
                                                             StaleElementReferenceException))
        shot = lambda name: driver.save_screenshot(os.path.join(env.shots, f"{name}.png"))
        by_css = lambda sel: driver.find_element(By.CSS_SELECTOR, sel)

        def login(user, password):
            driver.get(env.base + "/#/")
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#login input[name=user]")))
            for name, value in (("user", user), ("password", password)):
                field = by_css(f"#login input[name={name}]")
                field.clear()
                field.send_keys(value)
            shot(f"login-{user}")
            by_css("#login button[type=submit]").click()
            wait.until(EC.text_to_be_present_in_element((By.ID, "who"), user))

        # A wrong password is refused on the page.
        driver.get(env.base + "/#/")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#login input[name=user]")))
        by_css("#login input[name=user]").send_keys("ivanova")
        by_css("#login input[name=password]").send_keys("wrong password")
        by_css("#login button[type=submit]").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "login-error"), "wrong user name or password"))

        login("ivanova", "ivanova's password")
        wait.until(EC.presence_of_element_located((By.ID, "queue")))
        shot("queue")
        assert "<script>" in by_css(f"#queue tr[data-id='{xss_id}'] a").text

        # A request with a bad field: the service's error beside the field.
        driver.get(env.base + "/#/new")
        wait.until(EC.presence_of_element_located((By.ID, "request-form")))
        need = data("need_by.json")
        fill = {"external_ref": need["external_ref"], "org.id": need["org"]["id"],
                "org.name": need["org"]["name"], "org.country": need["org"]["country"],
                "org.region": need["org"]["region"], "contact.name": need["contact"]["name"],
                "contact.email": "not-an-email", "title": need["title"],
                "keywords": ", ".join(need["keywords"]), "trl": str(need["trl"])}
        for field, value in fill.items():
            el = by_css(f"#request-form [data-field='{field}']")
            el.clear()
            el.send_keys(value)
        by_css("#f-summary").send_keys(need["summary"])
        by_css(f"#f-sector option[value='{need['sector']}']").click()
        for c in need["cooperation"]:
            by_css(f"#f-cooperation input[value='{c}']").click()
        by_css("#request-form button[type=submit]").click()
        wait.until(lambda d: by_css("[data-error-for='contact.email']").text.strip() != "")
        assert "contact.email" in by_css("[data-field='contact.email']").get_attribute("data-field")
        assert "invalid" in by_css("[data-field='contact.email']").get_attribute("class")
        shot("form-field-error")
        email = by_css("[data-field='contact.email']")
        email.clear()
        email.send_keys(need["contact"]["email"])
        by_css("#request-form button[type=submit]").click()
        wait.until(EC.presence_of_element_located((By.ID, "request-title")))
        assert by_css("#request-title").text == need["title"]
        need_id = driver.current_url.rsplit("/", 1)[1]
        shot("request-submitted")

        # Publish it from its page; the match is proposed to operators: the
        # counter moves without a reload...
        unread_before = int(by_css("#unread").text)
        by_css("#request-actions button[data-action='publish']").click()
        wait.until(lambda d: "PUBLISHED" in d.find_element(By.ID, "main").text)
        wait.until(lambda d: int(d.find_element(By.ID, "unread").text) > unread_before)
        # ...and the match appears on the page without a reload: the page redraws
        # on the notification about it.
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#matches .match")))
        match = by_css("#matches .match")
        assert offer["title"] in match.text
        driver.execute_script("window.scrollTo(0, arguments[0].getBoundingClientRect().top + window.scrollY - 180)", match)
        shot("request-with-match")

        # Accept with the version the page shows.
        match.find_element(By.CSS_SELECTOR, "button[data-decide='accept']").click()
        wait.until(lambda d: "ACCEPTED" in d.find_element(By.CSS_SELECTOR, "#matches .match").text)
        shot("match-accepted")

        driver.get(env.base + "/#/notifications")
        wait.until(lambda d: "MATCH_ACCEPTED" in d.find_element(By.ID, "notification-list").text
                   or "MATCH_PROPOSED" in d.find_element(By.ID, "notification-list").text)
        shot("notifications")

        driver.get(env.base + "/#/search")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#results table")))
        shot("search")
        driver.get(env.base + "/#/dashboard")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#dashboard svg")))
        shot("dashboard")

        # The markup title is text on its page, and never ran.
        driver.get(env.base + f"/#/request/{xss_id}")
        wait.until(EC.presence_of_element_located((By.ID, "request-title")))
        assert by_css("#request-title").text.startswith("<script>")
        assert driver.execute_script("return window.pwned === undefined")
        assert not driver.find_elements(By.CSS_SELECTOR, "#request-title b")
        shot("markup-as-text")

        # A stale page: someone edits it behind the page's back (nothing is
        # notified, so the page does not redraw); the page's reject, with the
        # version it drew, is refused and offers a reload.
        st, _ = env.api("PATCH", f"/requests/{xss_id}", {"version": 1, "changes": {"trl": 8}})
        assert st == 200
        by_css("#request-actions button[data-action='reject']").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "banner"), "changed by someone else"))
        shot("stale-version")
        by_css("#banner button").click()
        wait.until(lambda d: "SUBMITTED (version 2)" in d.find_element(By.ID, "main").text)

        # An organisation's user: its own need yes, another's offer no.
        by_css("#logout").click()
        login("petrov", "petrov's password")
        driver.get(env.base + f"/#/request/{need_id}")
        wait.until(EC.presence_of_element_located((By.ID, "request-title")))
        driver.get(env.base + f"/#/request/{offer_id}")
        wait.until(EC.presence_of_element_located((By.ID, "page-error")))
        assert "PERMISSION_DENIED" in by_css("#page-error").text
        shot("org-user-refused")

        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"
                  and "/api/v1/" not in e.get("message", "")]
        assert not errors, errors
        ok = True
    finally:
        if driver:
            if not ok:
                try:
                    driver.save_screenshot(os.path.join(env.shots, "failure.png"))
                    print("browser log:", driver.get_log("browser"))
                except Exception:
                    pass
            driver.quit()
        status = env.down()
        print(f"screenshots: {env.shots}")
    if status != 0:
        print(f"tb-gateway exited with {status}")
        return 1
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
