"""The Zalo Bot Platform emulator answers like the documented API, over plain HTTP."""

from __future__ import annotations

import http.server
import json
import queue
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.zaloapi.server import ZaloApiEmulator

LAN = "8f1c2a9d0b7e4c3a1f6e"
HUNG = "0d9e8c7b6a5f4e3d2c1b"
HEX20 = re.compile(r"[0-9a-f]{20}")


@pytest.fixture
def emu() -> Iterator[ZaloApiEmulator]:
    with ZaloApiEmulator(webhook_retry_delay=0.05) as emulator:
        yield emulator
    assert not emulator.errors, emulator.errors


@pytest.fixture
def api(emu: ZaloApiEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{emu.base_url}/bot{emu.token}", trust_env=False) as client:
        yield client


def call(api: httpx.Client, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    answer = api.post(f"/{method}", json=params, timeout=10)
    return answer.status_code, answer.json()


def error(api: httpx.Client, method: str, **params: Any) -> tuple[int, str]:
    status, body = call(api, method, **params)
    assert body["ok"] is False
    assert body["error_code"] == status
    return status, body["description"]


def assert_ms(value: int) -> None:
    assert isinstance(value, int)
    assert abs(value - time.time() * 1000) < 10_000  # milliseconds, not seconds


# ------------------------------------------------------------------------------ basics


def test_get_me(emu: ZaloApiEmulator, api: httpx.Client) -> None:
    assert emu.base_url.startswith("http://127.0.0.1:")
    status, body = call(api, "getMe")
    assert status == 200
    assert body == {
        "ok": True,
        "result": {
            "id": "1234567890",
            "account_name": "bot.sangkien",
            "account_type": "BASIC",
            "can_join_groups": False,
        },
    }
    # GET works too
    assert api.get("/getMe").json()["result"]["id"] == "1234567890"


def test_wrong_token_and_unknown_method(emu: ZaloApiEmulator, api: httpx.Client) -> None:
    with httpx.Client(trust_env=False) as client:
        answer = client.post(f"{emu.base_url}/bot{emu.token}x/getMe", json={})
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert error(api, "sendPoll") == (404, "Not Found")
    assert error(api, "sendmessage")[0] == 404  # method names are case-sensitive


# ------------------------------------------------------------------------------ getUpdates


def test_long_poll_returns_an_update_sent_meanwhile(
    emu: ZaloApiEmulator, api: httpx.Client
) -> None:
    timer = threading.Timer(0.3, emu.user_sends, (LAN, "Xin chào"), {"display_name": "Lan"})
    timer.start()
    started = time.monotonic()
    status, body = call(api, "getUpdates", timeout="5")
    elapsed = time.monotonic() - started
    timer.join()
    assert status == 200
    assert 0.2 < elapsed < 3
    update = body["result"]
    assert isinstance(update, dict)  # one update, not a list
    assert update["event_name"] == "message.text.received"
    message = update["message"]
    assert message["from"] == {"id": LAN, "display_name": "Lan", "is_bot": False}
    assert message["chat"] == {"id": LAN, "chat_type": "PRIVATE"}
    assert message["text"] == "Xin chào"
    assert HEX20.fullmatch(message["message_id"])
    assert_ms(message["date"])


def test_idle_long_poll_ends_with_408(emu: ZaloApiEmulator, api: httpx.Client) -> None:
    started = time.monotonic()
    status, body = call(api, "getUpdates", timeout=1)
    assert 0.9 < time.monotonic() - started < 3
    assert status == 408
    assert body == {"ok": False, "error_code": 408, "description": "Request timeout"}
    assert error(api, "getUpdates", timeout="soon")[0] == 400


def test_each_update_is_handed_out_once(emu: ZaloApiEmulator, api: httpx.Client) -> None:
    first = emu.user_sends(LAN, "một")
    second = emu.user_sends_image(LAN, caption="ảnh")
    third = emu.user_sends_sticker(HUNG, "st1", display_name="Hùng")
    fourth = emu.user_sends_unsupported(HUNG)
    got = [call(api, "getUpdates", timeout=0)[1]["result"] for _ in range(4)]
    assert got == [first, second, third, fourth]
    assert [u["event_name"] for u in got] == [
        "message.text.received",
        "message.image.received",
        "message.sticker.received",
        "message.unsupported.received",
    ]
    assert got[1]["message"]["photo_url"].startswith("https://")
    assert got[1]["message"]["caption"] == "ảnh"
    assert got[2]["message"]["sticker"] == "st1"
    assert "text" not in got[3]["message"]
    assert call(api, "getUpdates", timeout=0)[0] == 408
    assert emu.pending_updates == []


def test_duplicate_last_update_keeps_the_message_id(
    emu: ZaloApiEmulator, api: httpx.Client
) -> None:
    original = emu.user_sends(LAN, "Gửi sáng kiến")
    duplicate = emu.duplicate_last_update()
    assert duplicate == original
    one = call(api, "getUpdates", timeout=0)[1]["result"]
    two = call(api, "getUpdates", timeout=0)[1]["result"]
    assert one["message"]["message_id"] == two["message"]["message_id"]
    assert one == two == original


def test_second_concurrent_poll_gets_409(emu: ZaloApiEmulator, api: httpx.Client) -> None:
    results: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
    poller = threading.Thread(target=lambda: results.put(call(api, "getUpdates", timeout=5)))
    poller.start()
    emu.wait_for(lambda: emu.polling, timeout=3)
    with httpx.Client(base_url=f"{emu.base_url}/bot{emu.token}", trust_env=False) as other:
        status, description = error(other, "getUpdates", timeout=1)
    assert status == 409
    assert "Conflict" in description
    update = emu.user_sends(LAN, "vẫn nhận được")
    poller.join(5)
    assert results.get_nowait() == (200, {"ok": True, "result": update})


def test_a_cancelled_poll_neither_blocks_nor_eats_updates(
    emu: ZaloApiEmulator, api: httpx.Client
) -> None:
    with pytest.raises(httpx.ReadTimeout):
        api.post("/getUpdates", json={"timeout": 5}, timeout=0.3)
    update = emu.user_sends(LAN, "sau khi huỷ")
    status, body = call(api, "getUpdates", timeout=2)
    assert (status, body["result"]) == (200, update)


# ------------------------------------------------------------------------------ sending


def test_send_message(emu: ZaloApiEmulator, api: httpx.Client) -> None:
    emu.user_sends(LAN, "hi")
    status, body = call(api, "sendMessage", chat_id=LAN, text="Chào Lan")
    assert status == 200
    assert HEX20.fullmatch(body["result"]["message_id"])
    assert_ms(body["result"]["date"])
    assert emu.sent(LAN) == [
        {
            "message_id": body["result"]["message_id"],
            "text": "Chào Lan",
            "date": body["result"]["date"],
        }
    ]
    assert emu.texts(LAN) == ["Chào Lan"]
    assert emu.calls_to("sendMessage") == [{"chat_id": LAN, "text": "Chào Lan"}]
    # form-encoded bodies work too
    answer = api.post("/sendMessage", data={"chat_id": LAN, "text": "x" * 2000})
    assert answer.status_code == 200
    assert emu.texts(LAN)[-1] == "x" * 2000


def test_send_message_errors(emu: ZaloApiEmulator, api: httpx.Client) -> None:
    emu.user_sends(LAN, "hi")
    too_long = "text length must be from 1 to 2000"
    assert error(api, "sendMessage", chat_id=LAN, text="x" * 2001) == (400, too_long)
    assert error(api, "sendMessage", chat_id=LAN, text="") == (400, too_long)
    assert error(api, "sendMessage", chat_id=LAN, text="  \n ") == (400, too_long)
    assert error(api, "sendMessage", chat_id=LAN) == (400, too_long)
    assert error(api, "sendMessage", chat_id="ffff", text="hi") == (400, "chat not found")
    assert error(api, "sendMessage", text="hi") == (400, "chat_id is required")
    emu.block(LAN)
    blocked = (403, "bot was blocked by the user")
    assert error(api, "sendMessage", chat_id=LAN, text="hi") == blocked
    assert error(api, "sendChatAction", chat_id=LAN, action="typing") == blocked
    emu.unblock(LAN)
    assert call(api, "sendMessage", chat_id=LAN, text="hi")[0] == 200
    assert emu.texts(LAN) == ["hi"]


def test_photo_sticker_and_chat_action(emu: ZaloApiEmulator, api: httpx.Client) -> None:
    emu.user_sends(LAN, "hi")
    photo = "https://zalo.example/p.jpg"
    assert call(api, "sendPhoto", chat_id=LAN, photo=photo, caption="Ảnh")[0] == 200
    assert call(api, "sendSticker", chat_id=LAN, sticker="0e078a2f")[0] == 200
    assert call(api, "sendChatAction", chat_id=LAN, action="typing") == (
        200,
        {"ok": True, "result": True},
    )
    assert error(api, "sendChatAction", chat_id=LAN, action="record_voice")[0] == 400
    assert error(api, "sendPhoto", chat_id=LAN, photo="not a url")[0] == 400
    assert error(api, "sendPhoto", chat_id=LAN, photo=photo, caption="c" * 2001)[0] == 400
    sent = emu.sent(LAN)
    assert [{k: v for k, v in m.items() if k not in ("message_id", "date")} for m in sent] == [
        {"photo": photo, "caption": "Ảnh"},
        {"sticker": "0e078a2f"},
    ]
    assert emu.chat_actions(LAN) == ["typing"]
    assert emu.wait_for_message(LAN, "Ảnh", timeout=1)["photo"] == photo


def test_quota(emu: ZaloApiEmulator, api: httpx.Client) -> None:
    emu.user_sends(LAN, "hi")
    emu.set_quota(2)
    assert call(api, "sendMessage", chat_id=LAN, text="1")[0] == 200
    assert call(api, "sendSticker", chat_id=LAN, sticker="s")[0] == 200
    assert call(api, "sendMessage", chat_id=LAN, text="3") == (
        429,
        {"ok": False, "error_code": 429, "description": "Quota exceeded"},
    )
    assert call(api, "sendChatAction", chat_id=LAN, action="typing")[0] == 200  # not a message
    emu.set_quota(None)
    assert call(api, "sendMessage", chat_id=LAN, text="4")[0] == 200
    assert emu.texts(LAN) == ["1", "4"]


def test_fail_next(emu: ZaloApiEmulator, api: httpx.Client) -> None:
    emu.user_sends(LAN, "hi")
    emu.fail_next("sendMessage", status=429, description="Too Many Requests", times=2)
    emu.fail_next("getMe", status=500, description="Internal error", error_code=-32)
    for _ in range(2):
        assert error(api, "sendMessage", chat_id=LAN, text="a") == (429, "Too Many Requests")
    assert call(api, "sendMessage", chat_id=LAN, text="b")[0] == 200
    assert call(api, "getMe") == (
        500,
        {"ok": False, "error_code": -32, "description": "Internal error"},
    )
    assert emu.texts(LAN) == ["b"]


# ------------------------------------------------------------------------------ webhook


class _Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.requests: queue.Queue[tuple[str, dict[str, str], Any]] = queue.Queue()
        self.statuses: list[int] = []
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)


class _ReceiverHandler(http.server.BaseHTTPRequestHandler):
    server: _Receiver

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.put((self.path, dict(self.headers.items()), body))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_webhook(emu: ZaloApiEmulator, api: httpx.Client, receiver: _Receiver) -> None:
    url = f"http://127.0.0.1:{receiver.server_address[1]}/zalo/hook"
    secret = "s3cr3t-token"
    assert error(api, "setWebhook", url=url, secret_token="short")[0] == 400
    assert error(api, "setWebhook", url="http://example.com/h", secret_token=secret)[0] == 400
    assert call(api, "getWebhookInfo")[1]["result"]["url"] == ""
    status, body = call(api, "setWebhook", url=url, secret_token=secret)
    assert status == 200
    assert body["result"]["url"] == url
    assert_ms(body["result"]["updated_at"])
    assert call(api, "getWebhookInfo")[1]["result"] == body["result"]
    assert emu.webhook == {"url": url, "secret_token": secret, **body["result"]}

    update = emu.user_sends(LAN, "qua webhook")
    path, headers, payload = receiver.requests.get(timeout=5)
    assert path == "/zalo/hook"
    assert headers["X-Bot-Api-Secret-Token"] == secret
    assert headers["Content-Type"] == "application/json"
    assert payload == {"ok": True, "result": update}
    emu.wait_for(lambda: len(emu.webhook_deliveries) == 1, timeout=3)
    delivery = emu.webhook_deliveries[0]
    assert (delivery["status"], delivery["ok"], delivery["attempt"]) == (200, True, 1)
    assert delivery["message_id"] == update["message"]["message_id"]

    status, description = error(api, "getUpdates", timeout=0)
    assert status == 400
    assert "webhook" in description

    # a failed delivery is retried
    receiver.statuses[:] = [500]
    retried = emu.user_sends(LAN, "lần hai")
    assert receiver.requests.get(timeout=5)[2]["result"] == retried
    assert receiver.requests.get(timeout=5)[2]["result"] == retried
    emu.wait_for(lambda: len(emu.webhook_deliveries) == 3, timeout=3)
    assert [d["status"] for d in emu.webhook_deliveries[1:]] == [500, 200]
    emu.wait_idle(quiet=0.05, timeout=3)

    status, body = call(api, "deleteWebhook")
    assert status == 200
    assert body["result"]["url"] == ""
    assert emu.webhook is None
    polled = emu.user_sends(LAN, "lại polling")
    assert call(api, "getUpdates", timeout=2) == (200, {"ok": True, "result": polled})
    assert receiver.requests.empty()


# ------------------------------------------------------------------------------ waiting


def test_wait_helpers(emu: ZaloApiEmulator, api: httpx.Client) -> None:
    emu.user_sends(LAN, "hi")
    threading.Timer(0.1, call, (api, "sendMessage"), {"chat_id": LAN, "text": "Trả lời"}).start()
    assert emu.wait_for_message(LAN, "Trả", timeout=3)["text"] == "Trả lời"
    call(api, "getUpdates", timeout=0)
    emu.wait_idle(quiet=0.1, timeout=3)
    with pytest.raises(TimeoutError, match="sendMessage"):
        emu.wait_for_message(LAN, "không có", timeout=0.1)


async def test_async_wait_helpers(emu: ZaloApiEmulator) -> None:
    emu.user_sends(LAN, "hi")

    def reply() -> None:
        with httpx.Client(trust_env=False) as client:
            client.post(f"{emu.api_url}/getUpdates", json={"timeout": 0})
            client.post(f"{emu.api_url}/sendMessage", json={"chat_id": LAN, "text": "ok async"})

    threading.Timer(0.1, reply).start()
    message = await emu.wait_for_message_async(LAN, "async", timeout=3)
    assert message["text"] == "ok async"
    await emu.wait_idle_async(quiet=0.1, timeout=3)
