"""Drive headless Chromium over the Chrome DevTools Protocol, for the MLflow UI test.

Chromium comes from the system packages (`.ci/run` installs it). The protocol is
spoken over a websocket with aiohttp, which Ray's `default` extra already installs.
Every process started here belongs to a new process group, which `close` ends.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import aiohttp

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=1400,1000",
]
START_TIMEOUT_S = 60.0


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def stop_group(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """End the process group `process` leads: SIGTERM, then SIGKILL after `timeout` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


class Browser:
    """One headless Chromium with a fresh profile, controlled through its first page."""

    def __init__(self, executable: str, profile: Path):
        self.process = subprocess.Popen([executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError(f"Chromium did not open its DevTools port within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.2)
        port = int(port_file.read_text().splitlines()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            pages = [target for target in json.load(response) if target["type"] == "page"]
        self.websocket_url = pages[0]["webSocketDebuggerUrl"]

    def close(self) -> None:
        stop_group(self.process)

    def run(self, scenario) -> object:
        """Run `await scenario(page)` with a connected `Page` and return its result."""
        async def main():
            async with (aiohttp.ClientSession() as session,
                        session.ws_connect(self.websocket_url, max_msg_size=0) as socket):
                return await scenario(Page(socket))

        return asyncio.run(main())


class Page:
    """Commands on one page: navigate, evaluate JavaScript, wait for a condition, screenshot."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse):
        self.socket = socket
        self.next_id = 0

    async def command(self, method: str, **params) -> dict:
        self.next_id += 1
        await self.socket.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = json.loads((await self.socket.receive()).data)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method} failed: {message['error']}")
                return message["result"]

    async def navigate(self, url: str) -> None:
        await self.command("Page.navigate", url=url)

    async def evaluate(self, expression: str):
        result = await self.command("Runtime.evaluate", expression=expression, returnByValue=True,
                                    awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float, description: str):
        """Poll `expression` until it is truthy and return its value; raise after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                text = await self.evaluate("document.body ? document.body.innerText.slice(0, 2000) : ''")
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {description}; page text: {text!r}")
            await asyncio.sleep(0.5)

    async def screenshot(self, path: Path) -> Path:
        result = await self.command("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(result["data"]))
        return path
