"""A WEBHOOK_SECRET changed on one process only (README "Rotating WEBHOOK_SECRET and BOT_TOKEN"): Telegram
holds the secret of whichever process called setWebhook last, so the others refuse every update routed
to them. Those refusals are counted (xuexi_webhook_refused_total) and turn that process's /healthz 503
with the reason in words, which is what an operator's monitor sees; the next update it accepts clears it."""
from __future__ import annotations

import json

from prometheus_client import CollectorRegistry

from bot.metrics import REFUSED_STALE, Metrics
from bot.webhook import WebhookReceiver
from tests.unit.test_metrics import free_port, get, samples, tick_scheduler
from tests.unit.test_webhook import body, client_for, hook, post


async def test_refused_webhook_requests_are_counted_and_turn_healthz_503(dp, bot, store, clock, settings):
    moments = [5000.0]
    scheduler = tick_scheduler()
    scheduler.start()
    metrics = Metrics(CollectorRegistry(), store, clock, scheduler, monotonic=lambda: moments[0])
    receiver = WebhookReceiver(dp, bot, store, clock, hook(), observer=metrics)
    metrics.webhook_serving(True)
    metrics.webhook_registered(True)
    client = await client_for(receiver)
    port = free_port()
    served = await metrics.serve("127.0.0.1", port)
    try:
        assert (await get(port, "/healthz"))[0] == 200
        # Telegram now holds another process's secret: what it routes here is refused
        assert await post(client, body(21, 720101), secret="the-other-process-secret-0123") == 401
        assert await post(client, body(22, 720102), secret="the-other-process-secret-0123") == 401
        status, _ctype, text = await get(port, "/healthz")
        health = json.loads(text)
        assert status == 503 and health["webhook"] is False
        assert health["problems"] == [("webhook requests are refused: their secret token is not this process's "
                                      "WEBHOOK_SECRET (another process set its own with Telegram)")]
        assert samples((await get(port, "/metrics"))[2])[("xuexi_webhook_refused_total", ())] == 2.0

        moments[0] += REFUSED_STALE + 1  # nothing came for a while: no longer this process's latest news
        assert (await get(port, "/healthz"))[0] == 200
        assert await post(client, body(23, 720103), secret="the-other-process-secret-0123") == 401
        assert (await get(port, "/healthz"))[0] == 503
        assert await post(client, body(24, 720104)) == 200  # the secrets agree again
        status, _ctype, text = await get(port, "/healthz")
        assert status == 200 and json.loads(text)["problems"] == []
        await receiver.inbox.drain()
    finally:
        await client.close()
        await served.cleanup()
        scheduler.shutdown()
