"""Make the README's screenshots of `rag serve`: the sample filing in a temporary store, Debian's headless Chromium.

    .venv/bin/python docs/screenshots.py        # writes docs/serve-documents.png and docs/serve-summary.png
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
RAG = [sys.executable, "-m", "rag.cli"]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        subprocess.run(RAG + ["ingest", str(ROOT / "samples" / "harborview_10k.txt"), "--store", str(store)], check=True, cwd=ROOT)
        doc = subprocess.run(RAG + ["docs", "--json", "--store", str(store)], check=True, capture_output=True, text=True, cwd=ROOT)
        doc_id = __import__("json").loads(doc.stdout)[0]["id"]
        server = subprocess.Popen(RAG + ["serve", "--store", str(store), "--port", "0"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            url = server.stdout.readline().strip().rstrip("/")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 820})
                page.goto(url + "/")
                page.fill("#question", "Who are the largest customers?")
                page.click("#ask-form button")
                page.wait_for_selector("#answer a.cite")
                page.locator("#answer a.cite").nth(2).click()
                page.wait_for_selector("#hl")
                page.screenshot(path=str(ROOT / "docs" / "serve-documents.png"))
                page.goto(f"{url}/doc/{doc_id}")
                page.wait_for_selector("#paragraph a.sentence")
                page.locator("#paragraph a.sentence").nth(3).click()
                page.screenshot(path=str(ROOT / "docs" / "serve-summary.png"))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    main()
